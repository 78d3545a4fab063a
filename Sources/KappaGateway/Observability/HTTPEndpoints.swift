import Hummingbird
import KappaLog
import KappaMQTT
import Logging

/// `/metrics` (Prometheus), `/healthz` (the process is alive) and `/readyz` (it does its job: broker
/// connected, processors reaching the database with lag under the bound, no unacknowledged loss of records).
public enum HTTPEndpoints {
    public static func application(address: String, metrics: GatewayMetrics, logger: Logger) throws -> some ApplicationProtocol {
        let (host, port) = try parse(address)
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let reasons = notReadyReasons(metrics)
            let body = reasons.isEmpty ? "ready\n" : reasons.map { "not ready: \($0)\n" }.joined()
            return Response(
                status: reasons.isEmpty ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body))
            )
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render()))
            )
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "kappa"),
            onServerRunning: { channel in
                logger.info("HTTP endpoints listening", metadata: ["kappa.http": "\(channel.localAddress?.description ?? address)"])
            },
            logger: logger
        )
    }

    public static func notReadyReasons(_ metrics: GatewayMetrics) -> [String] {
        var reasons: [String] = []
        if let bridge = metrics.bridge {
            if !bridge.isConnected {
                reasons.append("MQTT broker not connected\(bridge.lastProblem.map { " (\($0))" } ?? "")")
            }
            if let paused = bridge.statistics.snapshot.pausedBecause {
                reasons.append("intake paused: \(paused)")
            }
        }
        if metrics.log.isJetStreamConnected == false {
            reasons.append("the JetStream log is not connected to any NATS server (it reconnects by itself)")
        }
        // Only the embedded log records losses; JetStream's replicas do not report any to Kappa.
        let lost = metrics.log.disk?.recordedLosses.filter { !$0.acknowledged } ?? []
        if !lost.isEmpty {
            let described = lost.prefix(5).map(\.description).joined(separator: "; ")
            reasons.append("the log lost \(lost.reduce(0) { $0 + $1.count }) acknowledged records: \(described)\(lost.count > 5 ? "; …" : ""); `kappa log acknowledge-loss` once handled")
        }
        reasons += metrics.processors?.notReadyReasons() ?? []
        return reasons
    }

    /// `host:port`, `[v6]:port` or `:port` (all interfaces of 127.0.0.1).
    public static func parse(_ address: String) throws(SettingsError) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65_535).contains(port) else {
            throw SettingsError("the HTTP address '\(address)' is not host:port")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }
}
