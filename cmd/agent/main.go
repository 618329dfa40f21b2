// Command agent is the gossip membership daemon (`agent run`) and the CLI
// that drives a running one over RPC (members, join, leave, tags, ...).
package main

import (
	"context"
	"os"
)

//go:generate go test -run ^TestCLIDocsUpToDate$ -update .

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], processEnv()))
}
