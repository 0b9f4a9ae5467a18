package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
)

// HTTP/2 frame types this file names (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8

	flagAck = 0x1
)

// The client connection preface precedes the first frame we send.
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// frameTally counts the frames that went one way on a connection, from
// their 9-byte headers alone: what grpc-go put on the wire (its BDP PINGs,
// WINDOW_UPDATEs, RST_STREAMs), to print beside the verdict. Fed by one
// goroutine (the connection's reader or writer); read under mu at the end.
type frameTally struct {
	mu sync.Mutex
	// Bytes of the preface still to skip (sent side only).
	skip int
	// A frame header split across two reads or writes.
	header []byte
	// Payload bytes of the current frame not seen yet.
	remaining int
	// The current frame is a GOAWAY whose payload we keep.
	inGoAway bool
	goAway   []byte

	data, headers, rst, settings, pings, pingAcks, windowUpdates int
	// "CODE:debug data" of every GOAWAY seen.
	goAways []string
}

func (t *frameTally) feed(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(b) > 0 {
		if t.skip > 0 {
			n := min(t.skip, len(b))
			t.skip -= n
			b = b[n:]
			continue
		}
		if t.remaining > 0 {
			n := min(t.remaining, len(b))
			if t.inGoAway {
				t.goAway = append(t.goAway, b[:n]...)
			}
			t.remaining -= n
			b = b[n:]
			if t.remaining == 0 && t.inGoAway {
				t.endGoAway()
			}
			continue
		}
		n := min(9-len(t.header), len(b))
		t.header = append(t.header, b[:n]...)
		b = b[n:]
		if len(t.header) < 9 {
			continue
		}
		t.onHeader(t.header)
		t.header = t.header[:0]
	}
}

func (t *frameTally) onHeader(h []byte) {
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	typ, flags := h[3], h[4]
	switch typ {
	case frameData:
		t.data++
	case frameHeaders:
		t.headers++
	case frameRSTStream:
		t.rst++
	case frameSettings:
		if flags&flagAck == 0 {
			t.settings++
		}
	case framePing:
		if flags&flagAck == 0 {
			t.pings++
		} else {
			t.pingAcks++
		}
	case frameWindowUpdate:
		t.windowUpdates++
	case frameGoAway:
		t.inGoAway = true
		t.goAway = t.goAway[:0]
	}
	t.remaining = length
	if length == 0 && t.inGoAway {
		t.endGoAway()
	}
}

func (t *frameTally) endGoAway() {
	t.inGoAway = false
	if len(t.goAway) < 8 {
		t.goAways = append(t.goAways, "malformed")
		return
	}
	code := binary.BigEndian.Uint32(t.goAway[4:8])
	t.goAways = append(t.goAways, fmt.Sprintf("%s:%q", errorCodeName(code), t.goAway[8:]))
}

func errorCodeName(code uint32) string {
	names := []string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
		"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
		"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
		"HTTP_1_1_REQUIRED"}
	if int(code) < len(names) {
		return names[code]
	}
	return fmt.Sprintf("0x%x", code)
}

func (t *frameTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := fmt.Sprintf("data=%d headers=%d rst=%d settings=%d pings=%d ping_acks=%d window_updates=%d",
		t.data, t.headers, t.rst, t.settings, t.pings, t.pingAcks, t.windowUpdates)
	if len(t.goAways) > 0 {
		s += " goaway=" + strings.Join(t.goAways, ",")
	}
	return s
}

func (t *frameTally) pingCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pings
}

// tallyConn is a TCP connection that tallies the frames each way.
type tallyConn struct {
	net.Conn
	sent, received *frameTally
}

func (c *tallyConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.received.feed(b[:n])
	return n, err
}

func (c *tallyConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.feed(b[:n])
	return n, err
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
