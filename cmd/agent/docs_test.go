package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the command tree")

// docsPath is the generated CLI reference, relative to this package.
var docsPath = filepath.Join("..", "..", "docs", "cli.md")

// TestCLIDocsUpToDate regenerates the CLI reference from the command tree
// and compares it with docs/cli.md. Rewrite the file with
//
//	go test ./cmd/agent -run TestCLIDocsUpToDate -update
//
// or `go generate ./cmd/agent`.
func TestCLIDocsUpToDate(t *testing.T) {
	got := cliReference(docTree(t))
	if *update {
		if err := os.WriteFile(docsPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v; generate it with: go test ./cmd/agent -run TestCLIDocsUpToDate -update", err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := lineAt(gl, i), lineAt(wl, i)
			if g != w {
				t.Fatalf("docs/cli.md is out of date (line %d is %q; the tree gives %q); regenerate it with: go test ./cmd/agent -run TestCLIDocsUpToDate -update", i+1, w, g)
			}
		}
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// docTree is the command tree as the reference describes it: no
// environment, so nothing in it depends on where it was generated.
func docTree(t *testing.T) *cobra.Command {
	return newRootCmd(testEnv(t, &syncBuffer{}, &syncBuffer{}, nil))
}

// documented returns cmd and its descendants in the reference's order
// (depth first, subcommands sorted by name), without cobra's help command.
func documented(cmd *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{cmd}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && c.Name() != "help" {
			out = append(out, documented(c)...)
		}
	}
	return out
}

// ownFlags returns the flags a command defines, without --help.
func ownFlags(cmd *cobra.Command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
	cmd.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			fs.AddFlag(f)
		}
	})
	return fs
}

func anchor(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "-")
}

// cliReference renders the reference in Markdown.
func cliReference(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("# agent CLI reference\n\n")
	b.WriteString("<!-- Generated from the command tree by `go generate ./cmd/agent` " +
		"(go test ./cmd/agent -run TestCLIDocsUpToDate -update). DO NOT EDIT. -->\n\n")
	cmds := documented(root)
	for _, c := range cmds {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor(c), c.Short)
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n", c.CommandPath(), c.Short)
		b.WriteString("\n```text\n")
		if c.HasAvailableSubCommands() {
			b.WriteString(c.CommandPath() + " [command]\n")
		} else {
			b.WriteString(c.UseLine() + "\n")
		}
		b.WriteString("```\n")
		if c.Long != "" {
			b.WriteString("\n" + strings.TrimSpace(c.Long) + "\n")
		}
		if c.Example != "" {
			b.WriteString("\nExamples:\n\n```sh\n" + c.Example + "\n```\n")
		}
		if fs := ownFlags(c); fs.HasFlags() {
			b.WriteString("\nFlags:\n\n```text\n" + fs.FlagUsagesWrapped(0) + "```\n")
		}
	}
	return b.String()
}

// TestHelpText lints the help of every command.
func TestHelpText(t *testing.T) {
	for _, c := range documented(docTree(t)) {
		path := c.CommandPath()
		switch {
		case c.Short == "":
			t.Errorf("%s: no Short", path)
		case strings.HasSuffix(c.Short, "."):
			t.Errorf("%s: Short %q ends with a period", path, c.Short)
		case strings.ToUpper(c.Short[:1]) != c.Short[:1]:
			t.Errorf("%s: Short %q does not start with a capital", path, c.Short)
		}
		if c.Long == "" && c.Example == "" {
			t.Errorf("%s: neither Long nor Example", path)
		}
		if c.Runnable() && c.RunE == nil {
			t.Errorf("%s: uses Run, not RunE", path)
		}
		if c.Runnable() && c.Args == nil {
			t.Errorf("%s: no Args check; stray arguments would be accepted", path)
		}
		for line := range strings.SplitSeq(c.Long, "\n") {
			if len(line) > 90 {
				t.Errorf("%s: Long has a line of %d characters (max 90): %q", path, len(line), line)
			}
		}
		ownFlags(c).VisitAll(func(f *pflag.Flag) {
			switch {
			case strings.TrimSpace(f.Usage) == "":
				t.Errorf("%s --%s: no usage text", path, f.Name)
			case strings.HasSuffix(f.Usage, "."):
				t.Errorf("%s --%s: usage %q ends with a period", path, f.Name, f.Usage)
			}
		})
	}
}
