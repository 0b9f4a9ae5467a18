// interop_go_client: a grpc-go client of tests/support/echo.proto that runs
// one scenario against a target (strait, or an echo backend directly) and
// judges it, so strait's tests can check what a real grpc-go peer sees.
//
//	interop_go_client --target HOST:PORT --scenario NAME [--count N]
//	                  [--ca FILE [--server-name NAME]]
//
// All RPCs share one channel: h2c, or TLS with --ca (a PEM file of the only
// root CAs trusted; the name verified is --server-name, by default the host
// of --target, and is also the :authority). Its dialer counts the TCP
// connections it opened; the HTTP/2 frames each way are tallied on each
// connection (over TLS, on the decrypted bytes). The last line on stdout is
// the verdict, and the exit code says it too:
//
//	PASS dials=D tls=T <details> sent[<frames>] received[<frames>]   (exit 0)
//	FAIL <scenario>: <reason> dials=D tls=T sent[...] received[...]  (exit 1)
//
// dials=1 means the connection was never cut; tls=T is how many of the
// connections completed a TLS handshake (0 for h2c). A GOAWAY received is
// listed in received[] with its error code and debug data.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "strait/interop/echopb"
)

// What one scenario may take before the client gives up on it and says
// FAIL (keepalive_idle's idle time comes on top).
const scenarioTimeout = 60 * time.Second

// A scenario: its default --count and its body, which returns the details
// of a PASS or the reason of a FAIL.
type scenario struct {
	defaultCount int
	// Dial options beyond the common ones.
	dialOptions func(count int) []grpc.DialOption
	run         func(ctx context.Context, c *client, count int) (string, error)
}

var scenarios = map[string]scenario{
	"unary_metadata":    {defaultCount: 1, run: unaryMetadata},
	"trailers_only":     {defaultCount: 100, run: trailersOnly},
	"bidi_1mib":         {defaultCount: 200, run: bidi1MiB},
	"deadline_cancel":   {defaultCount: 1000, run: deadlineCancel},
	"cancel_under_load": {defaultCount: 2000, run: cancelUnderLoad},
	// --count is the idle time in seconds.
	"keepalive_idle": {defaultCount: 30, run: keepaliveIdle, dialOptions: keepaliveOptions},
}

// client is the channel under test and what its dialer saw.
type client struct {
	echo  pb.EchoClient
	dials int64
	// Connections that completed a TLS handshake.
	tlsConns int64
	// Set (before the dial) when the channel speaks TLS: the tally then
	// goes on the connection the TLS handshake returns, not on the TCP one.
	tls   bool
	mu    sync.Mutex
	conns []*tallyConn
}

func (c *client) dial(ctx context.Context, addr string) (net.Conn, error) {
	atomic.AddInt64(&c.dials, 1)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || c.tls {
		return conn, err
	}
	return c.tally(conn), nil
}

// tally wraps conn (what HTTP/2 is read from and written to) in a
// tallyConn that frames() reports.
func (c *client) tally(conn net.Conn) net.Conn {
	t := &tallyConn{Conn: conn, sent: &frameTally{skip: len(clientPreface)},
		received: &frameTally{}}
	c.mu.Lock()
	c.conns = append(c.conns, t)
	c.mu.Unlock()
	return t
}

func (c *client) dialCount() int64 { return atomic.LoadInt64(&c.dials) }

// wire is "dials=D tls=T".
func (c *client) wire() string {
	return fmt.Sprintf("dials=%d tls=%d", c.dialCount(), atomic.LoadInt64(&c.tlsConns))
}

// tallyCreds is grpc-go's TLS credentials, but for what the client counts:
// each completed handshake, and the decrypted connection it returns.
type tallyCreds struct {
	credentials.TransportCredentials
	c *client
}

func (t tallyCreds) ClientHandshake(ctx context.Context, authority string,
	raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := t.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := info.(credentials.TLSInfo); ok {
		atomic.AddInt64(&t.c.tlsConns, 1)
	}
	return t.c.tally(conn), info, nil
}

func (t tallyCreds) Clone() credentials.TransportCredentials {
	return tallyCreds{t.TransportCredentials.Clone(), t.c}
}

// tlsCredentials trusts only the CAs in caFile and verifies serverName
// (when "", the host of the target).
func tlsCredentials(caFile, serverName string, c *client) (credentials.TransportCredentials, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return tallyCreds{credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: serverName}), c}, nil
}

// frames is "sent[...] received[...]" for every connection, in dial order.
func (c *client) frames() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, t := range c.conns {
		parts = append(parts, "sent["+t.sent.String()+"]", "received["+t.received.String()+"]")
	}
	return strings.Join(parts, " ")
}

// pingsSent counts the PINGs (not acks) sent on every connection so far.
func (c *client) pingsSent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.conns {
		n += t.sent.pingCount()
	}
	return n
}

// Bytes 0..255, and the same reversed: binary metadata values that cover
// every octet.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func reversedBytes() []byte {
	b := allBytes()
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// proxyAdded says whether a request metadata key is one a proxy adds on
// the way (X-Forwarded-For and kin, as strait does). The backend's
// echo_metadata sends those back too, so echoed headers may carry them.
func proxyAdded(key string) bool { return strings.HasPrefix(key, "x-forwarded-") }

// expectMD checks that the "x-" entries of `got` are exactly `want`, but
// for the keys that `ignore` accepts; it returns those, sorted.
func expectMD(what string, got metadata.MD, want map[string]string,
	ignore func(string) bool) ([]string, error) {
	seen := map[string]bool{}
	var ignored []string
	for k, vs := range got {
		if !strings.HasPrefix(k, "x-") {
			continue
		}
		w, ok := want[k]
		if !ok && ignore != nil && ignore(k) {
			ignored = append(ignored, k)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("%s: unexpected %s=%q", what, k, vs)
		}
		if len(vs) != 1 || vs[0] != w {
			return nil, fmt.Errorf("%s: %s=%q, want [%q]", what, k, vs, w)
		}
		seen[k] = true
	}
	for k := range want {
		if !seen[k] {
			return nil, fmt.Errorf("%s: %s missing (got %v)", what, k, got)
		}
	}
	sort.Strings(ignored)
	return ignored, nil
}

func unaryMetadata(ctx context.Context, c *client, count int) (string, error) {
	payload := []byte("metadata round trip")
	req := &pb.EchoRequest{
		Payload:         payload,
		EchoMetadata:    true,
		InitialMetadata: map[string][]byte{"x-initial": []byte("i")},
		TrailingMetadata: map[string][]byte{
			"x-trailer": []byte("t"), "x-trailer-bin": reversedBytes(),
		},
	}
	proxyKeys := ""
	// What the backend saw as x-forwarded-proto: a proxy's word on whether
	// the client's connection was TLS.
	forwardedProto := "none"
	for i := 0; i < count; i++ {
		callCtx := metadata.AppendToOutgoingContext(ctx,
			"x-text", "hello", "x-bin-bin", string(allBytes()))
		var header, trailer metadata.MD
		resp, err := c.echo.Unary(callCtx, req, grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			return "", fmt.Errorf("call %d: %v", i, err)
		}
		if !bytes.Equal(resp.Payload, payload) {
			return "", fmt.Errorf("call %d: payload %q, want %q", i, resp.Payload, payload)
		}
		if got := string(resp.RequestMetadata["x-bin-bin"]); got != string(allBytes()) {
			return "", fmt.Errorf("call %d: backend saw x-bin-bin=%q", i, got)
		}
		if got := string(resp.RequestMetadata["x-text"]); got != "hello" {
			return "", fmt.Errorf("call %d: backend saw x-text=%q", i, got)
		}
		if proto, ok := resp.RequestMetadata["x-forwarded-proto"]; ok {
			forwardedProto = string(proto)
		}
		added, err := expectMD("headers", header, map[string]string{
			"x-text": "hello", "x-bin-bin": string(allBytes()), "x-initial": "i",
		}, proxyAdded)
		if err != nil {
			return "", fmt.Errorf("call %d: %v", i, err)
		}
		proxyKeys = strings.Join(added, ",")
		if _, err := expectMD("trailers", trailer, map[string]string{
			"x-trailer": "t", "x-trailer-bin": string(reversedBytes()),
		}, nil); err != nil {
			return "", fmt.Errorf("call %d: %v", i, err)
		}
	}
	if proxyKeys == "" {
		proxyKeys = "none"
	}
	return fmt.Sprintf("calls=%d proxy_added=%s forwarded_proto=%s", count, proxyKeys,
		forwardedProto), nil
}

// Non-ASCII on purpose: gRPC percent-encodes grpc-message, and a proxy that
// rewrites trailers must keep the encoding intact.
const notFoundMessage = "not found: ünïcode ✓"

func trailersOnly(ctx context.Context, c *client, count int) (string, error) {
	req := &pb.EchoRequest{
		StatusCode:       int32(codes.NotFound),
		StatusMessage:    notFoundMessage,
		TrailingMetadata: map[string][]byte{"x-trailer": []byte("t")},
	}
	for i := 0; i < count; i++ {
		var trailer metadata.MD
		_, err := c.echo.Unary(ctx, req, grpc.Trailer(&trailer))
		st := status.Convert(err)
		if st.Code() != codes.NotFound || st.Message() != notFoundMessage {
			return "", fmt.Errorf("call %d: %v %q, want NOT_FOUND %q", i, st.Code(),
				st.Message(), notFoundMessage)
		}
		if _, err := expectMD("trailers", trailer, map[string]string{"x-trailer": "t"}, nil); err != nil {
			return "", fmt.Errorf("call %d: %v", i, err)
		}
	}
	return fmt.Sprintf("calls=%d not_found=%d", count, count), nil
}

const mib = 1 << 20

// bidiPayload is message i's payload: 1 MiB that differs from its
// neighbours', so a dropped, repeated or reordered message shows.
func bidiPayload(i int) []byte {
	b := make([]byte, mib)
	for j := range b {
		b[j] = byte(i*131 + j*7)
	}
	return b
}

func bidi1MiB(ctx context.Context, c *client, count int) (string, error) {
	stream, err := c.echo.Bidi(ctx)
	if err != nil {
		return "", fmt.Errorf("open: %v", err)
	}
	start := time.Now()
	for i := 0; i < count; i++ {
		payload := bidiPayload(i)
		if err := stream.Send(&pb.EchoRequest{Payload: payload}); err != nil {
			_, recvErr := stream.Recv()
			return "", fmt.Errorf("send %d: %v (stream: %v)", i, err, recvErr)
		}
		resp, err := stream.Recv()
		if err != nil {
			return "", fmt.Errorf("receive %d: %v", i, err)
		}
		if resp.Index != int32(i) || !bytes.Equal(resp.Payload, payload) {
			return "", fmt.Errorf("receive %d: index %d, %d payload bytes (equal: %v)", i,
				resp.Index, len(resp.Payload), bytes.Equal(resp.Payload, payload))
		}
	}
	if err := stream.CloseSend(); err != nil {
		return "", fmt.Errorf("close send: %v", err)
	}
	// io.EOF is the OK status; anything else is the stream's failure.
	if resp, err := stream.Recv(); err == nil {
		return "", fmt.Errorf("after close: unexpected message %d", resp.Index)
	} else if err != io.EOF {
		return "", fmt.Errorf("after close: %v", err)
	}
	elapsed := time.Since(start)
	return fmt.Sprintf("messages=%d bytes_each_way=%d elapsed_ms=%d", count, count*mib,
		elapsed.Milliseconds()), nil
}

// callTally counts the codes that a batch of calls ended with.
type callTally struct {
	mu    sync.Mutex
	codes map[codes.Code]int
	// The first call that ended otherwise than expected.
	firstBad string
}

func (t *callTally) add(i int, err error, ok func(codes.Code) bool) {
	code := status.Code(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.codes[code]++
	if !ok(code) && t.firstBad == "" {
		t.firstBad = fmt.Sprintf("call %d: %v", i, err)
		if err == nil {
			t.firstBad = fmt.Sprintf("call %d: succeeded", i)
		}
	}
}

func (t *callTally) String() string {
	var parts []string
	for code, n := range t.codes {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.ToLower(code.String()), n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// concurrently runs call(i) for i in [0, count), `parallel` at a time.
func concurrently(count, parallel int, call func(i int)) {
	next := int64(-1)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= count {
					return
				}
				call(i)
			}
		}()
	}
	wg.Wait()
}

// Calls in flight at once in the load scenarios.
const parallelCalls = 8

// afterwards is the plain call that must succeed once a batch of abandoned
// calls is over: the channel (and what is behind it) still works.
func afterwards(ctx context.Context, c *client) error {
	payload := []byte("still there")
	resp, err := c.echo.Unary(ctx, &pb.EchoRequest{Payload: payload})
	if err != nil {
		return fmt.Errorf("the call after: %v", err)
	}
	if !bytes.Equal(resp.Payload, payload) {
		return fmt.Errorf("the call after: payload %q", resp.Payload)
	}
	return nil
}

// abandonBatch runs `count` calls, parallelCalls at a time, each of which
// the client abandons (call(i) returns how it ended), checks that each
// ended as `expected` says, then that a plain call still succeeds.
func abandonBatch(ctx context.Context, c *client, count int, expected func(codes.Code) bool,
	call func(i int) error) (string, error) {
	tally := &callTally{codes: map[codes.Code]int{}}
	concurrently(count, parallelCalls, func(i int) { tally.add(i, call(i), expected) })
	if tally.firstBad != "" {
		return "", fmt.Errorf("%s (of %d: %v)", tally.firstBad, count, tally)
	}
	if err := afterwards(ctx, c); err != nil {
		return "", err
	}
	return fmt.Sprintf("calls=%d %v then_ok=1", count, tally), nil
}

func deadlineCancel(ctx context.Context, c *client, count int) (string, error) {
	expected := func(code codes.Code) bool { return code == codes.DeadlineExceeded }
	return abandonBatch(ctx, c, count, expected, func(int) error {
		callCtx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := c.echo.Unary(callCtx, &pb.EchoRequest{SleepMs: 1000})
		return err
	})
}

func cancelUnderLoad(ctx context.Context, c *client, count int) (string, error) {
	expected := func(code codes.Code) bool {
		return code == codes.Canceled || code == codes.DeadlineExceeded
	}
	return abandonBatch(ctx, c, count, expected, func(int) error {
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		timer := time.AfterFunc(5*time.Millisecond, cancel)
		defer timer.Stop()
		// The backend would answer after 1 s: every call it sees must end by
		// the cancel (5 ms in) long before that, however loaded the machine.
		_, err := c.echo.Unary(callCtx, &pb.EchoRequest{SleepMs: 1000})
		return err
	})
}

// What keepaliveIdle asks for. grpc-go raises Time to its floor
// (internal.KeepaliveMinPingTime, which only grpc-go itself may import) and
// says so only at a log level that is off by default.
var keepaliveAsked = keepalive.ClientParameters{
	Time: time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true,
}

// grpc-go 1.33's internal.KeepaliveMinPingTime.
const grpcGoMinPingTime = 10 * time.Second

func keepaliveOptions(int) []grpc.DialOption {
	return []grpc.DialOption{grpc.WithKeepaliveParams(keepaliveAsked)}
}

func keepaliveIdle(ctx context.Context, c *client, idleSeconds int) (string, error) {
	payload := []byte("before idle")
	if _, err := c.echo.Unary(ctx, &pb.EchoRequest{Payload: payload}); err != nil {
		return "", fmt.Errorf("before idle: %v", err)
	}
	before := c.pingsSent()
	idle := time.Duration(idleSeconds) * time.Second
	// The one wait on purpose: an idle connection, kept alive by PINGs only.
	time.Sleep(idle)
	pings := c.pingsSent() - before
	if err := afterwards(ctx, c); err != nil {
		return "", err
	}
	if pings == 0 {
		return "", fmt.Errorf("no keepalive PING in %v idle: the scenario tested nothing", idle)
	}
	used := keepaliveAsked.Time
	if used < grpcGoMinPingTime {
		used = grpcGoMinPingTime
	}
	return fmt.Sprintf("keepalive_asked=%v keepalive_used=%v idle=%v pings_while_idle=%d",
		keepaliveAsked.Time, used, idle, pings), nil
}

func main() {
	target := flag.String("target", "", "HOST:PORT to call")
	name := flag.String("scenario", "", "scenario to run")
	count := flag.Int("count", 0, "how many calls (keepalive_idle: idle seconds); 0: the scenario's default")
	caFile := flag.String("ca", "", "PEM root CAs: dial TLS trusting only these (default: h2c)")
	serverName := flag.String("server-name", "", "with --ca, the TLS name verified (default: the host of --target)")
	flag.Parse()
	sc, ok := scenarios[*name]
	if *target == "" || !ok {
		var names []string
		for n := range scenarios {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Printf("FAIL usage: --target HOST:PORT --scenario {%s} [--count N] "+
			"[--ca FILE [--server-name NAME]]\n",
			strings.Join(names, ","))
		os.Exit(1)
	}
	n := sc.defaultCount
	if *count > 0 {
		n = *count
	}

	c := &client{tls: *caFile != ""}
	security := grpc.WithInsecure()
	if c.tls {
		creds, err := tlsCredentials(*caFile, *serverName, c)
		if err != nil {
			fmt.Printf("FAIL --ca: %v %s\n", err, c.wire())
			os.Exit(1)
		}
		security = grpc.WithTransportCredentials(creds)
	} else if *serverName != "" {
		fmt.Printf("FAIL usage: --server-name needs --ca %s\n", c.wire())
		os.Exit(1)
	}
	options := []grpc.DialOption{
		security,
		grpc.WithContextDialer(c.dial),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(8*mib), grpc.MaxCallSendMsgSize(8*mib)),
	}
	if sc.dialOptions != nil {
		options = append(options, sc.dialOptions(n)...)
	}
	conn, err := grpc.Dial(*target, options...)
	if err != nil {
		fmt.Printf("FAIL dial %s: %v %s\n", *target, err, c.wire())
		os.Exit(1)
	}
	c.echo = pb.NewEchoClient(conn)

	timeout := scenarioTimeout
	if *name == "keepalive_idle" {
		timeout += time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	details, err := sc.run(ctx, c, n)
	cancel()
	if err != nil {
		fmt.Printf("FAIL %s: %v %s %s\n", *name, err, c.wire(), c.frames())
		conn.Close()
		os.Exit(1)
	}
	fmt.Printf("PASS %s %s %s\n", c.wire(), details, c.frames())
	conn.Close()
}
