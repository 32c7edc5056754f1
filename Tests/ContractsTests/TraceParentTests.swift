import FairwayContracts
import Testing

@Suite("W3C traceparent")
struct TraceParentTests {
    @Test("valid headers are read; malformed, zero and version-ff ones are no trace context; a child keeps the trace with a new span")
    func parsing() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let parsed = try #require(TraceParent(header))
        #expect(parsed.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && parsed.parentID == "00f067aa0ba902b7" && parsed.description == header)
        #expect(TraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future") != nil, "a later version by its first fields")
        for bad in ["", "00", header.uppercased(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                    "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "00-4bf92f3577b34da6a3ce929d0e0e47g6-00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{0}", String(repeating: "a", count: 5000)] {
            #expect(TraceParent(bad) == nil, "\(bad.prefix(80))")
        }
        let child = parsed.child()
        #expect(child.traceID == parsed.traceID && child.parentID != parsed.parentID && child.flags == "01")
        #expect(TraceParent.continuing("garbage").traceID.count == 32 && TraceParent.continuing(header).traceID == parsed.traceID)
        #expect(TraceParent.root().traceID != TraceParent.root().traceID)
    }
}
