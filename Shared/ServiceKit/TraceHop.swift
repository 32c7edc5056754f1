public import FairwayContracts
import Foundation
import Instrumentation
import Tracing

/// One hop of an acquisition's trace in this service (handling a message, answering a request):
/// a span in the trace the incoming `traceparent` continues. Its `traceparent` is what the
/// messages the hop causes carry. With span export configured (`SpanExport`) the span is the
/// exporter's, so the back end links each hop to the one before; without, the hop still gets a
/// span id of its own and the trace id travels on.
public struct TraceHop: Sendable {
    public enum Kind: Sendable { case server, consumer, `internal` }

    /// The span of this hop as a W3C header value (`00-<trace>-<this span>-<flags>`).
    public let traceparent: TraceParent
    private let span: any Span

    /// Runs `body` as a new span continuing `header` (a new trace when it is missing or malformed).
    /// The span ends when `body` returns.
    public static func span<T>(_ name: String, kind: Kind, continuing header: String?, attributes: [String: String] = [:],
                               _ body: (TraceHop) async throws -> T) async rethrows -> T {
        var parent = InstrumentationContext.topLevel
        if let header, TraceParent(header) != nil {
            InstrumentationSystem.instrument.extract(["traceparent": header], into: &parent, using: HeaderCarrier())
        }
        return try await withSpan(name, context: parent, ofKind: kind.spanKind) { span in
            for (key, value) in attributes { span.attributes[key] = value }
            return try await body(TraceHop(traceparent: Self.traceparent(of: span, continuing: header), span: span))
        }
    }

    /// Marks the hop as failed: an error event each time; the span's status is an error only when
    /// the failure is `final` (dead-lettered), not when the message will be retried.
    public func failed(_ error: any Error, final: Bool) {
        span.recordError(error)
        if final { span.setStatus(SpanStatus(code: .error, message: String("\(error)".prefix(200)))) }
    }

    /// The exporter's own span context when a tracer is bootstrapped (it writes `traceparent`);
    /// otherwise a span id of our own under the incoming header.
    private static func traceparent(of span: any Span, continuing header: String?) -> TraceParent {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(span.context, into: &carrier, using: HeaderCarrier())
        return carrier["traceparent"].flatMap(TraceParent.init) ?? TraceParent.continuing(header)
    }
}

private struct HeaderCarrier: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

extension TraceHop.Kind {
    var spanKind: SpanKind {
        switch self {
        case .server: .server
        case .consumer: .consumer
        case .internal: .internal
        }
    }
}
