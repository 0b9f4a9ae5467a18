// interop_go_server: the scripted echo service of tests/support/echo.proto,
// served by grpc-go, so strait's tests can put a backend of another gRPC
// stack behind it. It answers exactly as tests/support/echo_service.cc does;
// that file is the reference, and a difference is a bug here.
//
//	interop_go_server --name NAME
//
// Listens on 127.0.0.1 (port chosen by the system), prints one line
// "listening on PORT" on stdout, and serves until SIGTERM or end of stdin
// (a test keeps our stdin open; its closing means "stop"). On the way out
// it prints "served calls=N cancelled=M": RPCs started, and RPCs that ended
// because they observed their cancellation (the client's cancel or
// deadline, as strait forwards them), so a test can check that no backend
// call outlived its client.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "strait/interop/echopb"
)

const (
	// As the C++ backend: tests send messages of several MiB.
	maxMessageBytes = 64 << 20
	// wait_for_cancel gives up after this.
	maxCancelWait = 30 * time.Second
	// How long a stop waits for handlers still running before it closes
	// their connections.
	stopGrace = 5 * time.Second
)

// echoServer holds what every handler shares: the name answers carry and
// the counters printed at exit. Handlers run on grpc-go's goroutines, many
// at once, hence the atomics.
type echoServer struct {
	pb.UnimplementedEchoServer
	name      string
	calls     int64
	cancelled int64
}

func (s *echoServer) countCall() { atomic.AddInt64(&s.calls, 1) }

// endCancelled ends a call that observed its cancellation, counting it once.
// A passed deadline ends it as DEADLINE_EXCEEDED, as gRPC C++ does on its
// own: grpc-go would send whatever status the handler returns.
func (s *echoServer) endCancelled(ctx context.Context, where string) error {
	atomic.AddInt64(&s.cancelled, 1)
	if ctx.Err() == context.DeadlineExceeded {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded "+where)
	}
	return status.Error(codes.Canceled, "cancelled "+where)
}

// endBroken ends a call whose Recv or Send failed: cancelled if the context
// says so, otherwise the peer is simply gone.
func (s *echoServer) endBroken(ctx context.Context, where string) error {
	if ctx.Err() != nil {
		return s.endCancelled(ctx, where)
	}
	return status.Error(codes.Unavailable, "peer gone "+where)
}

func toMD(m map[string][]byte) metadata.MD {
	md := metadata.MD{}
	for k, v := range m {
		md.Append(k, string(v))
	}
	return md
}

// initialMetadata is what Begin queues as headers: the scripted entries and,
// with echo_metadata, every request entry whose key starts with "x-".
func initialMetadata(ctx context.Context, req *pb.EchoRequest) metadata.MD {
	md := toMD(req.InitialMetadata)
	if req.EchoMetadata {
		in, _ := metadata.FromIncomingContext(ctx)
		for k, vs := range in {
			if strings.HasPrefix(k, "x-") {
				md.Append(k, vs...)
			}
		}
	}
	return md
}

// describe fills in what the backend saw of the call, in the C++ backend's
// terms: metadata without pseudo-headers, peer as "ipv4:ADDR:PORT".
func (s *echoServer) describe(ctx context.Context, resp *pb.EchoResponse) {
	resp.BackendName = s.name
	resp.RequestMetadata = map[string][]byte{}
	in, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range in {
		if k == ":authority" {
			resp.Authority = vs[0]
			continue
		}
		// The C++ map keeps one value per key: the last one seen.
		resp.RequestMetadata[k] = []byte(vs[len(vs)-1])
	}
	resp.Peer = peerName(ctx)
}

func peerName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok && tcp.IP.To4() == nil {
		return "ipv6:" + tcp.String()
	}
	return "ipv4:" + p.Addr.String()
}

// sleep waits `ms`; false (early) once the call is cancelled.
func sleep(ctx context.Context, ms int32) bool {
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return ctx.Err() == nil
	}
}

// finish sets the scripted trailers and returns the scripted status.
func finish(ctx context.Context, req *pb.EchoRequest, setTrailer func(metadata.MD)) error {
	setTrailer(toMD(req.TrailingMetadata))
	if req.StatusCode == 0 {
		return nil
	}
	return status.Error(codes.Code(req.StatusCode), req.StatusMessage)
}

// awaitCancel is wait_for_cancel: blocks until the call is cancelled, at
// most maxCancelWait.
func (s *echoServer) awaitCancel(ctx context.Context) error {
	if !sleep(ctx, int32(maxCancelWait/time.Millisecond)) {
		return s.endCancelled(ctx, "while waiting for the cancel")
	}
	return status.Error(codes.FailedPrecondition, "wait_for_cancel: no cancel within 30 s")
}

// responsePayload is a Unary/ServerStream payload: `response_size` bytes of
// `fill`, or the request's own payload.
func responsePayload(req *pb.EchoRequest, fill byte) []byte {
	if req.ResponseSize > 0 {
		b := make([]byte, req.ResponseSize)
		for i := range b {
			b[i] = fill
		}
		return b
	}
	return req.Payload
}

func (s *echoServer) Unary(ctx context.Context, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	s.countCall()
	if md := initialMetadata(ctx, req); len(md) > 0 {
		grpc.SetHeader(ctx, md)
	}
	if req.WaitForCancel {
		return nil, s.awaitCancel(ctx)
	}
	if req.SleepMs > 0 && !sleep(ctx, req.SleepMs) {
		return nil, s.endCancelled(ctx, "while sleeping")
	}
	resp := &pb.EchoResponse{}
	s.describe(ctx, resp)
	resp.Payload = responsePayload(req, 'u')
	if err := finish(ctx, req, func(md metadata.MD) { grpc.SetTrailer(ctx, md) }); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *echoServer) ServerStream(req *pb.EchoRequest, stream pb.Echo_ServerStreamServer) error {
	s.countCall()
	ctx := stream.Context()
	if md := initialMetadata(ctx, req); len(md) > 0 {
		stream.SetHeader(md)
	}
	for i := int32(0); i < req.ResponseCount; i++ {
		if req.SleepMs > 0 && !sleep(ctx, req.SleepMs) {
			return s.endCancelled(ctx, "while streaming")
		}
		resp := &pb.EchoResponse{Index: i, Payload: responsePayload(req, 's')}
		s.describe(ctx, resp)
		if err := stream.Send(resp); err != nil {
			return s.endBroken(ctx, "while streaming")
		}
	}
	if req.WaitForCancel {
		return s.awaitCancel(ctx)
	}
	return finish(ctx, req, stream.SetTrailer)
}

// beginStream scripts a client-streaming call (ClientStream, Bidi) from its
// first message: queues the initial metadata and, with wait_for_cancel,
// blocks until the call is cancelled; `ended` says the call is over, with
// status `err`.
func (s *echoServer) beginStream(ctx context.Context, first *pb.EchoRequest,
	setHeader func(metadata.MD) error) (ended bool, err error) {
	if md := initialMetadata(ctx, first); len(md) > 0 {
		setHeader(md)
	}
	if first.WaitForCancel {
		return true, s.awaitCancel(ctx)
	}
	return false, nil
}

func (s *echoServer) ClientStream(stream pb.Echo_ClientStreamServer) error {
	s.countCall()
	ctx := stream.Context()
	var first *pb.EchoRequest
	var messages, bytes int64
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.endBroken(ctx, "while reading")
		}
		if first == nil {
			first = req
			if ended, err := s.beginStream(ctx, first, stream.SetHeader); ended {
				return err
			}
		}
		messages++
		bytes += int64(len(req.Payload))
		if req.SleepMs > 0 && !sleep(ctx, req.SleepMs) {
			return s.endCancelled(ctx, "while reading")
		}
	}
	if first == nil {
		first = &pb.EchoRequest{}
	}
	resp := &pb.EchoResponse{MessagesReceived: messages, BytesReceived: bytes}
	s.describe(ctx, resp)
	if err := finish(ctx, first, stream.SetTrailer); err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

func (s *echoServer) Bidi(stream pb.Echo_BidiServer) error {
	s.countCall()
	ctx := stream.Context()
	var first *pb.EchoRequest
	var index int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.endBroken(ctx, "while echoing")
		}
		if first == nil {
			first = req
			if ended, err := s.beginStream(ctx, first, stream.SetHeader); ended {
				return err
			}
		}
		if req.SleepMs > 0 && !sleep(ctx, req.SleepMs) {
			return s.endCancelled(ctx, "while echoing")
		}
		// Kept small (no metadata copy), as the C++ one: a stream may echo
		// thousands of these.
		resp := &pb.EchoResponse{
			BackendName: s.name, Peer: peerName(ctx), Index: index, Payload: req.Payload,
		}
		index++
		if err := stream.Send(resp); err != nil {
			return s.endBroken(ctx, "while echoing")
		}
	}
	if first == nil {
		first = &pb.EchoRequest{}
	}
	return finish(ctx, first, stream.SetTrailer)
}

// awaitStop returns on SIGTERM, SIGINT or end of stdin.
func awaitStop() {
	stop := make(chan struct{}, 2)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-signals; stop <- struct{}{} }()
	go func() { io.Copy(io.Discard, os.Stdin); stop <- struct{}{} }()
	<-stop
}

func main() {
	name := flag.String("name", "go", "answers carry it as backend_name")
	flag.Parse()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop_go_server: %v\n", err)
		os.Exit(1)
	}
	service := &echoServer{name: *name}
	server := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.MaxSendMsgSize(maxMessageBytes),
		// grpc-go's default policy (a PING at most every 5 minutes, none
		// without a stream) would GOAWAY a client that keeps an idle
		// connection alive; the tests want to see what strait does with
		// those PINGs, not what this backend does.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: time.Second, PermitWithoutStream: true,
		}),
	)
	pb.RegisterEchoServer(server, service)
	go server.Serve(lis)
	// os.Stdout is unbuffered: the line is out when Printf returns.
	fmt.Printf("listening on %d\n", lis.Addr().(*net.TCPAddr).Port)

	awaitStop()
	stopped := make(chan struct{})
	go func() { server.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopGrace):
		server.Stop()
	}
	fmt.Printf("served calls=%d cancelled=%d\n",
		atomic.LoadInt64(&service.calls), atomic.LoadInt64(&service.cancelled))
}
