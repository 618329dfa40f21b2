package memnet

import (
	"sync/atomic"
	"testing"
)

// BenchmarkWriteTo measures one packet from WriteTo to the receiver's
// PacketCh, with and without a loss roll.
func BenchmarkWriteTo(b *testing.B) {
	for _, bc := range []struct {
		name string
		loss float64
	}{{"no-loss", 0}, {"loss-0.1", 0.1}} {
		b.Run(bc.name, func(b *testing.B) {
			nw := New(Config{Seed: 1})
			defer nw.Close()
			from, to := nw.NewTransport(), nw.NewTransport()
			nw.SetLoss(bc.loss)
			buf := make([]byte, 512)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				from.WriteTo(buf, to.Addr())
				select {
				case <-to.PacketCh():
				default:
				}
			}
		})
	}
}

// BenchmarkWriteToParallel sends from many goroutines to many receivers, as
// a large memberlist cluster does.
func BenchmarkWriteToParallel(b *testing.B) {
	const nodes = 64
	nw := New(Config{Seed: 1})
	defer nw.Close()
	ts := make([]*Transport, nodes)
	for i := range ts {
		ts[i] = nw.NewTransport()
	}
	var next atomic.Uint64
	buf := make([]byte, 512)
	b.SetBytes(int64(len(buf)))
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1)
		from := ts[i%nodes]
		for pb.Next() {
			i++
			to := ts[i%nodes]
			from.WriteTo(buf, to.Addr())
			select {
			case <-to.PacketCh():
			default:
			}
		}
	})
}
