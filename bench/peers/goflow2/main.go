// Decoder benchmark of GoFlow2 (github.com/netsampler/goflow2), the peer akvo's decoders are
// compared with: decodes the UDP payloads of captures with GoFlow2's decoders and turns them
// into flow messages with its protobuf producer, single goroutine, and prints flows/s.
// Built by bench/decoders-peers from the Go module proxy into ~/.cache/akvo (not in the repo).
//
//	goflow2-bench [-seconds N] FILE.pcap...
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
)

func udpPayloads(path string) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	le := binary.LittleEndian.Uint32(data[:4]) == 0xa1b2c3d4
	var bo binary.ByteOrder = binary.BigEndian
	if le {
		bo = binary.LittleEndian
	}
	link := bo.Uint32(data[20:24])
	var out [][]byte
	for off := 24; off+16 <= len(data); {
		incl := int(bo.Uint32(data[off+8 : off+12]))
		pkt := data[off+16 : off+16+incl]
		off += 16 + incl
		var l3 []byte
		etype := uint16(0)
		switch link {
		case 1:
			etype = binary.BigEndian.Uint16(pkt[12:14])
			l3 = pkt[14:]
			for etype == 0x8100 {
				etype = binary.BigEndian.Uint16(l3[2:4])
				l3 = l3[4:]
			}
		case 113:
			etype = binary.BigEndian.Uint16(pkt[14:16])
			l3 = pkt[16:]
		default:
			l3 = pkt
			etype = 0x800
			if pkt[0]>>4 == 6 {
				etype = 0x86dd
			}
		}
		var udp []byte
		if etype == 0x800 && l3[9] == 17 {
			udp = l3[int(l3[0]&0xf)*4:]
		} else if etype == 0x86dd && l3[6] == 17 {
			udp = l3[40:]
		} else {
			continue
		}
		n := int(binary.BigEndian.Uint16(udp[4:6]))
		out = append(out, udp[8:n])
	}
	return out
}

func main() {
	seconds := flag.Float64("seconds", 3, "how long to run")
	// -raw: GoFlow2's decoders alone, without the producer. It is the first stage of Akvorado's
	// decoders, which call the same functions on every datagram (netflowlegacy.DecodeMessage,
	// netflow.DecodeMessageNetFlow/IPFIX, sflow.DecodeMessageVersion) and then convert the
	// result into their own flow message: Akvorado cannot decode faster than this.
	raw := flag.Bool("raw", false, "decoders only, no producer (Akvorado's first stage)")
	flag.Parse()
	var all [][]byte
	for _, p := range flag.Args() {
		all = append(all, udpPayloads(p)...)
	}
	cfg := &protoproducer.ProducerConfig{}
	compiled, err := cfg.Compile()
	if err != nil {
		panic(err)
	}
	prod, _ := protoproducer.CreateProtoProducer(compiled, protoproducer.CreateSamplingSystem)
	templates := netflow.CreateTemplateSystem()
	args := &producer.ProduceArgs{Src: netip.MustParseAddrPort("192.0.2.1:2055"), SamplerAddress: netip.MustParseAddr("192.0.2.1"), TimeReceived: time.Now()}
	decode := func(p []byte) int {
		buf := bytes.NewBuffer(p)
		var msg interface{}
		if len(p) >= 4 && binary.BigEndian.Uint32(p[:4]) == 5 {
			var pkt sflow.Packet
			if sflow.DecodeMessageVersion(buf, &pkt) != nil {
				return 0
			}
			msg = &pkt
		} else if len(p) >= 2 && binary.BigEndian.Uint16(p[:2]) == 5 {
			var pkt netflowlegacy.PacketNetFlowV5
			if netflowlegacy.DecodeMessageVersion(buf, &pkt) != nil {
				return 0
			}
			msg = &pkt
		} else {
			var v9 netflow.NFv9Packet
			var ipfix netflow.IPFIXPacket
			if netflow.DecodeMessageVersion(buf, templates, &v9, &ipfix) != nil {
				return 0
			}
			if binary.BigEndian.Uint16(p[:2]) == 9 {
				msg = &v9
			} else {
				msg = &ipfix
			}
		}
		if *raw {
			return records(msg)
		}
		flows, err := prod.Produce(msg, args)
		if err != nil {
			return 0
		}
		n := len(flows)
		prod.Commit(flows)
		return n
	}
	// Learn templates (a datagram may carry its data before its templates), then keep the
	// datagrams that produce flows.
	for _, p := range all {
		decode(p)
	}
	var data [][]byte
	for _, p := range all {
		if decode(p) > 0 {
			data = append(data, p)
		}
	}
	if len(data) == 0 {
		fmt.Println("RESULT goflow2 flows_per_second=0 (no flow decoded)")
		return
	}
	start := time.Now()
	flows := 0
	for time.Since(start).Seconds() < *seconds {
		for _, p := range data {
			flows += decode(p)
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("RESULT goflow2 flows_per_second=%.0f flows=%d seconds=%.2f\n", float64(flows)/el, flows, el)
}

// records counts the flows a decoded message carries, as akvo counts them: v5 records, v9 and
// IPFIX data records, sFlow flow samples.
func records(msg interface{}) int {
	n := 0
	switch m := msg.(type) {
	case *netflowlegacy.PacketNetFlowV5:
		n = len(m.Records)
	case *netflow.NFv9Packet:
		for _, fs := range m.FlowSets {
			if d, ok := fs.(netflow.DataFlowSet); ok {
				n += len(d.Records)
			}
		}
	case *netflow.IPFIXPacket:
		for _, fs := range m.FlowSets {
			if d, ok := fs.(netflow.DataFlowSet); ok {
				n += len(d.Records)
			}
		}
	case *sflow.Packet:
		for _, s := range m.Samples {
			switch s.(type) {
			case sflow.FlowSample, sflow.ExpandedFlowSample:
				n++
			}
		}
	}
	return n
}
