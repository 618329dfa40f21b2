package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentd/agent/events"
	metrics "github.com/armon/go-metrics"
	"github.com/hashicorp/memberlist"
)

// Query filter types, Serf's.
const (
	filterNodes byte = 0
	filterTag   byte = 1
)

// InternalQueryPrefix starts the names of the queries the agents answer
// themselves; user queries may not use it.
const InternalQueryPrefix = "_serf_"

// Query errors.
var (
	ErrQueryTooLarge    = errors.New("query too large")
	ErrResponseTooLarge = errors.New("query response too large")
	ErrInternalName     = errors.New("query names starting with " + InternalQueryPrefix + " are reserved")
	ErrQueryExpired     = errors.New("query deadline passed")
	ErrAlreadyResponded = errors.New("query already answered")
)

// QueryParams narrows and shapes a query.
type QueryParams struct {
	// FilterNodes, if not empty, limits the query to the named nodes.
	FilterNodes []string
	// FilterTags limits the query to nodes whose tag matches the regular
	// expression (unanchored, as in Serf), for every tag given.
	FilterTags map[string]string
	// RequestAck asks each matching node to acknowledge the query as
	// soon as it receives it.
	RequestAck bool
	// RelayFactor sends each ack and response also through this many
	// random members, for when the direct path is lossy.
	RelayFactor uint8
	// Timeout is how long the asker listens; 0 means DefaultQueryTimeout.
	Timeout time.Duration
}

// NodeResponse is one node's answer.
type NodeResponse struct {
	From    string
	Payload []byte
}

// QueryResponse collects the acks and responses of a query this node
// asked. Both channels are closed when the query ends: at its deadline,
// once every node that matched its filters has answered (and acked, if
// acks were asked), or at Close.
type QueryResponse struct {
	ltime    LamportTime
	id       uint32
	deadline time.Time
	ackWant  bool
	ackOnly  bool // acks are the answers (ping): complete once all acked

	acks      chan string
	responses chan NodeResponse
	done      chan struct{}

	mu        sync.Mutex
	expected  map[string]bool // nodes that matched the filters when asked
	acked     map[string]bool
	responded map[string]bool
	closed    bool
	timer     *time.Timer
	repairs   []*time.Timer // see queryrepair.go
	unlink    func()
}

// Acks delivers the name of each node that acknowledged.
func (r *QueryResponse) Acks() <-chan string { return r.acks }

// Responses delivers each node's answer.
func (r *QueryResponse) Responses() <-chan NodeResponse { return r.responses }

// Done is closed when the query ends.
func (r *QueryResponse) Done() <-chan struct{} { return r.done }

// Deadline is when the query ends at the latest.
func (r *QueryResponse) Deadline() time.Time { return r.deadline }

// Expected returns the nodes that matched the filters when the query was
// asked: once all of them have answered, the query ends.
func (r *QueryResponse) Expected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.expected))
}

// Close ends the query now.
func (r *QueryResponse) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked()
}

func (r *QueryResponse) closeLocked() {
	if r.closed {
		return
	}
	r.closed = true
	r.timer.Stop()
	for _, t := range r.repairs {
		t.Stop()
	}
	close(r.acks)
	close(r.responses)
	close(r.done)
	r.unlink()
}

// deliver records an ack or a response from a node, once per node and
// kind, and ends the query when it is complete.
func (r *QueryResponse) deliver(from string, ack bool, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if ack {
		if r.acked[from] {
			return
		}
		r.acked[from] = true
		select {
		case r.acks <- from:
		default: // the buffer holds one per member; a stranger may be dropped
		}
	} else {
		if r.responded[from] {
			return
		}
		r.responded[from] = true
		select {
		case r.responses <- NodeResponse{From: from, Payload: payload}:
		default:
		}
	}
	if r.completeLocked() {
		r.closeLocked()
	}
}

// completeLocked reports whether every expected node has answered and,
// if acks were asked, acknowledged.
func (r *QueryResponse) completeLocked() bool {
	if len(r.expected) == 0 {
		return false
	}
	for name := range r.expected {
		if (!r.ackOnly && !r.responded[name]) || (r.ackWant && !r.acked[name]) {
			return false
		}
	}
	return true
}

// DefaultQueryTimeout is Serf's: GossipInterval x 16 x ceil(log10(N+1)).
func (n *Node) DefaultQueryTimeout() time.Duration {
	mult := math.Ceil(math.Log10(float64(n.NumMembers() + 1)))
	return n.cfg.Timing.GossipInterval * 16 * time.Duration(max(mult, 1))
}

// PingQuery is the internal query every agent acknowledges and never
// answers (`agent reachability`); the only internal one users may ask,
// without a payload, as in Serf.
const PingQuery = InternalQueryPrefix + "ping"

// Query asks the cluster: every node that matches the filters delivers
// the query to its consumer, which may answer it. Names starting with
// InternalQueryPrefix are refused, except PingQuery without a payload,
// which ends once every matching node has acknowledged.
func (n *Node) Query(name string, payload []byte, p QueryParams) (*QueryResponse, error) {
	if strings.HasPrefix(name, InternalQueryPrefix) && (name != PingQuery || len(payload) > 0) {
		return nil, fmt.Errorf("query %q: %w", name, ErrInternalName)
	}
	return n.query(name, payload, p)
}

func (n *Node) query(name string, payload []byte, p QueryParams) (*QueryResponse, error) {
	if st := n.getState(); st != stateAlive {
		return nil, fmt.Errorf("query %q: %w", name, stateErr(st))
	}
	filters, err := encodeFilters(p)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", name, err)
	}
	if p.Timeout <= 0 {
		p.Timeout = n.DefaultQueryTimeout()
	}
	local := n.LocalMember()
	msg := queryMessage{
		LTime: n.queryClock.Time(), ID: rand.Uint32(),
		Addr: local.Addr, Port: local.Port, SourceNode: n.cfg.NodeName,
		Filters: filters, RelayFactor: p.RelayFactor, Timeout: p.Timeout,
		Name: name, Payload: payload,
	}
	if ip4 := local.Addr.To4(); ip4 != nil {
		msg.Addr = ip4
	}
	if p.RequestAck {
		msg.Flags |= queryFlagAck
	}
	raw, err := encodeMessage(msgQuery, &msg)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", name, err)
	}
	if limit := n.cfg.QuerySizeLimit; len(raw) > limit {
		return nil, fmt.Errorf("%w: query %q is %d bytes encoded, over the limit of %d (query_size_limit)", ErrQueryTooLarge, name, len(raw), limit)
	}
	n.queryClock.Increment()

	expected := map[string]bool{}
	members := n.Members()
	for _, m := range members {
		if m.Status == events.StatusAlive && matchesFilters(filters, m.Name, m.Tags) {
			expected[m.Name] = true
		}
	}
	r := &QueryResponse{
		ltime: msg.LTime, id: msg.ID, deadline: time.Now().Add(p.Timeout), ackWant: p.RequestAck, ackOnly: name == PingQuery,
		// Room for every member, and some that join while it runs, so that
		// a reader that drains at the end still gets every answer.
		acks: make(chan string, len(members)+16), responses: make(chan NodeResponse, len(members)+16),
		done: make(chan struct{}), expected: expected, acked: map[string]bool{}, responded: map[string]bool{},
	}
	key := queryKey{msg.LTime, msg.ID}
	r.unlink = func() {
		n.qMu.Lock()
		delete(n.asked, key)
		n.qMu.Unlock()
	}
	r.mu.Lock()
	r.timer = time.AfterFunc(p.Timeout, r.Close)
	r.mu.Unlock()
	n.qMu.Lock()
	n.asked[key] = r
	n.qMu.Unlock()

	n.handleQuery(msg, raw)
	if p.RequestAck && n.cfg.RepairRounds > 0 {
		n.scheduleQueryRepair(r, raw, p.Timeout)
	}
	return r, nil
}

// queryKey identifies a query.
type queryKey struct {
	ltime LamportTime
	id    uint32
}

// handleQuery processes a query, ours or a peer's: dedup, rebroadcast
// (unless flagged not to), and, if the filters match this node, an ack
// and delivery to the consumer or the internal handler. raw is the
// encoded message, owned by the caller's copy.
func (n *Node) handleQuery(msg queryMessage, raw []byte) {
	n.queryClock.Witness(msg.LTime)
	n.qMu.Lock()
	isNew := msg.LTime >= n.qMin && n.qSeen.add(msg.LTime, msg.ID, n.queryClock.Time())
	n.qMu.Unlock()
	if !isNew {
		return
	}
	metrics.IncrCounter([]string{"serf", "queries"}, 1)
	metrics.IncrCounter([]string{"serf", "queries", msg.Name}, 1)
	if msg.Flags&queryFlagNoBroadcast == 0 {
		n.queries.QueueBroadcast(newBroadcast(raw, "", nil))
		n.sendDirect(raw, eventFanout(n.NumMembers()))
	}
	if !matchesFilters(msg.Filters, n.cfg.NodeName, n.Tags()) {
		return
	}
	dest := net.UDPAddr{IP: net.IP(msg.Addr), Port: int(msg.Port)}
	if msg.Flags&queryFlagAck != 0 {
		ack := queryResponseMessage{LTime: msg.LTime, ID: msg.ID, From: n.cfg.NodeName, Flags: queryFlagAck}
		if err := n.sendResponse(dest, msg.SourceNode, msg.RelayFactor, &ack, true); err != nil {
			n.logger.Debug("query ack", "query", msg.Name, "err", err)
		}
	}
	q := &events.QueryEvent{
		LTime: uint64(msg.LTime), ID: msg.ID, Name: msg.Name, Payload: bytes.Clone(msg.Payload),
		Deadline: time.Now().Add(msg.Timeout),
	}
	var once sync.Once
	q.Responder = func(payload []byte) error {
		err := ErrAlreadyResponded
		once.Do(func() {
			if time.Now().After(q.Deadline) {
				err = ErrQueryExpired
				return
			}
			resp := queryResponseMessage{LTime: msg.LTime, ID: msg.ID, From: n.cfg.NodeName, Payload: payload}
			err = n.sendResponse(dest, msg.SourceNode, msg.RelayFactor, &resp, true)
			if errors.Is(err, ErrResponseTooLarge) {
				// Tell the asker rather than leave it waiting in silence.
				resp.Payload = fmt.Appendf(nil, "error: the response of %d bytes exceeds the responder's query_response_size_limit of %d bytes",
					len(payload), n.cfg.QueryResponseSizeLimit)
				if serr := n.sendResponse(dest, msg.SourceNode, msg.RelayFactor, &resp, false); serr != nil {
					n.logger.Debug("query response error notice", "query", msg.Name, "err", serr)
				}
			}
		})
		return err
	}
	if strings.HasPrefix(msg.Name, InternalQueryPrefix) {
		n.internalQuery(q)
		return
	}
	n.snapshotClocks()
	n.out.push(q)
}

// internalQuery answers the queries agents handle themselves.
func (n *Node) internalQuery(q *events.QueryEvent) {
	switch strings.TrimPrefix(q.Name, InternalQueryPrefix) {
	case "ping":
		// The ack is the answer.
	case "conflict":
		n.answerConflict(q)
	case string(KeyInstall), string(KeyUse), string(KeyRemove), string(KeyList):
		n.answerKeyQuery(q)
	default:
		n.logger.Debug("unhandled internal query", "query", q.Name)
	}
}

// sendResponse sends an ack or response to the asker, and through
// relayFactor random members as well. With limited, a response over
// QueryResponseSizeLimit is refused.
func (n *Node) sendResponse(dest net.UDPAddr, destName string, relayFactor uint8, resp *queryResponseMessage, limited bool) error {
	raw, err := encodeMessage(msgQueryResponse, resp)
	if err != nil {
		return err
	}
	if limit := n.cfg.QueryResponseSizeLimit; limited && len(raw) > limit {
		return fmt.Errorf("%w: %d bytes encoded, over the limit of %d (query_response_size_limit)", ErrResponseTooLarge, len(raw), limit)
	}
	ml := n.mlist.Load()
	if ml == nil {
		return ErrNotStarted
	}
	if err := ml.SendToAddress(memberlist.Address{Addr: dest.String(), Name: destName}, raw); err != nil {
		return fmt.Errorf("send query response to %s: %w", destName, err)
	}
	if relayFactor == 0 {
		return nil
	}
	relayed, err := encodeRelay(dest, destName, raw)
	if err != nil {
		return err
	}
	n.mu.Lock()
	peers := n.table.randomAlivePeers(n.rng, int(relayFactor))
	n.mu.Unlock()
	for _, p := range peers {
		addr := memberlist.Address{Addr: net.JoinHostPort(p.Addr.String(), strconv.Itoa(int(p.Port))), Name: p.Name}
		if err := ml.SendToAddress(addr, relayed); err != nil {
			n.logger.Debug("relay query response", "via", p.Name, "err", err)
		}
	}
	return nil
}

// handleQueryResponse routes an ack or response to the query we asked.
func (n *Node) handleQueryResponse(resp queryResponseMessage) {
	n.qMu.Lock()
	r := n.asked[queryKey{resp.LTime, resp.ID}]
	n.qMu.Unlock()
	if r == nil {
		return // ended, or not ours
	}
	r.deliver(resp.From, resp.Flags&queryFlagAck != 0, bytes.Clone(resp.Payload))
}

// encodeRelay wraps an encoded message for forwarding to dest by a peer.
func encodeRelay(dest net.UDPAddr, destName string, inner []byte) ([]byte, error) {
	hdr, err := encodeMessage(msgRelay, &relayHeader{DestAddr: dest, DestName: destName})
	if err != nil {
		return nil, err
	}
	return append(hdr, inner...), nil
}

type filterTagMessage struct {
	Tag  string
	Expr string
}

// encodeFilters writes the filters as Serf does: a node list, then one
// tag filter per tag (sorted, for a stable encoding).
func encodeFilters(p QueryParams) ([][]byte, error) {
	var out [][]byte
	if len(p.FilterNodes) > 0 {
		b, err := encodeMessage(messageType(filterNodes), p.FilterNodes)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	for _, tag := range slices.Sorted(maps.Keys(p.FilterTags)) {
		expr := p.FilterTags[tag]
		if _, err := regexp.Compile(expr); err != nil {
			return nil, fmt.Errorf("tag filter %s=%s: %w", tag, expr, err)
		}
		b, err := encodeMessage(messageType(filterTag), &filterTagMessage{Tag: tag, Expr: expr})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// matchesFilters reports whether a node with this name and tags passes
// every filter. A filter that cannot be decoded, or of an unknown type,
// does not match (as in Serf).
func matchesFilters(filters [][]byte, name string, tags map[string]string) bool {
	for _, f := range filters {
		if len(f) == 0 {
			return false
		}
		switch f[0] {
		case filterNodes:
			var nodes []string
			if decodeBody(f[1:], &nodes) != nil || !slices.Contains(nodes, name) {
				return false
			}
		case filterTag:
			var ft filterTagMessage
			if decodeBody(f[1:], &ft) != nil {
				return false
			}
			ok, err := regexp.MatchString(ft.Expr, tags[ft.Tag])
			if err != nil || !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// queryBuffer remembers the query IDs seen per query-clock time, within
// Serf's 512 ticks. It is pure: the caller locks.
type queryBuffer struct {
	byTime map[LamportTime][]uint32
}

// add reports whether the query is new; one older than the window is not.
func (b *queryBuffer) add(lt LamportTime, id uint32, now LamportTime) bool {
	if now > replayWindow && lt < now-replayWindow {
		return false
	}
	if b.byTime == nil {
		b.byTime = map[LamportTime][]uint32{}
	}
	if slices.Contains(b.byTime[lt], id) {
		return false
	}
	b.byTime[lt] = append(b.byTime[lt], id)
	if len(b.byTime) > 2*replayWindow {
		for t := range b.byTime {
			if now > replayWindow && t < now-replayWindow {
				delete(b.byTime, t)
			}
		}
	}
	return true
}
