import Foundation
public import Hummingbird
public import Prometheus

/// `/healthz`, `/readyz` and `/metrics`, which every service serves beside its own routes.
public enum OperationsRoutes {
    public static func add(to router: Router<some RequestContext>, readiness: Readiness, metrics: PrometheusCollectorRegistry) {
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { _, _ in
            let results = await readiness.evaluate()
            let ready = results.allSatisfy { $0.1 == nil }
            let lines = results.map { name, failure in "\(name): \(failure ?? "ok")" }.joined(separator: "\n")
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: (ready ? "ready\n" : "not ready\n") + lines + "\n"))
            )
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer()))
            )
        }
    }
}
