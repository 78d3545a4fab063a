import KappaCore
import KappaLog
import KappaMQTT

/// Renders what the gateway's parts report as Prometheus metrics, at scrape time (no global registry:
/// every figure is read from the part that owns it).
struct GatewayMetrics: Sendable {
    let log: DiskLog
    let streams: [DiskStream]
    let bridge: MQTTBridge?
    let processors: ProcessorReporting?
    var droppedAlerts: DroppedAlerts? = nil

    func render() -> String {
        var out = PrometheusText()
        if let bridge {
            let stats = bridge.statistics.snapshot
            let templates = bridge.configuration.routes.map(\.template.description)
            out.family("kappa_mqtt_connected", .gauge, help: "1 while the bridge is connected to the broker.", value: bridge.isConnected ? 1 : 0)
            out.family("kappa_mqtt_connections_total", .counter, help: "Connections the broker accepted (reconnects included).", value: Double(bridge.connectionCount))
            out.family("kappa_mqtt_messages_total", .counter, help: "MQTT messages received, by topic template.",
                       samples: zip(templates, stats.messagesByRoute).map { ([("template", $0.0)], Double($0.1)) }
                           + [([("template", "(no match)")], Double(stats.messages - stats.messagesByRoute.reduce(0, +)))])
            out.family("kappa_mqtt_payload_bytes_total", .counter, help: "Payload bytes received.", value: Double(stats.payloadBytes))
            out.family("kappa_readings_appended_total", .counter, help: "Readings appended to the log.", value: Double(stats.readings))
            out.family("kappa_dead_letters_total", .counter, help: "Dead letters appended, by reason.",
                       samples: stats.deadLettersByReason.sorted { $0.key < $1.key }.map { ([("reason", $0.key)], Double($0.value)) })
            out.family("kappa_bridge_paused", .gauge, help: "1 while intake is paused because the log refuses appends.", value: stats.pausedBecause == nil ? 0 : 1)
        }
        var bytes: [(labels: [(String, String)], value: Double)] = []
        var highWatermarks: [(labels: [(String, String)], value: Double)] = []
        var starts: [(labels: [(String, String)], value: Double)] = []
        for stream in streams {
            for partition in 0..<stream.partitionCount {
                let summary = stream.summary(partition: partition)
                let labels = [("stream", stream.name), ("partition", String(partition))]
                bytes.append((labels, Double(summary.bytes)))
                highWatermarks.append((labels, Double(summary.offsets.highWatermark)))
                starts.append((labels, Double(summary.offsets.start)))
            }
        }
        out.family("kappa_log_bytes", .gauge, help: "Bytes on disk per log partition.", samples: bytes)
        out.family("kappa_log_high_watermark", .gauge, help: "Offset the next record of the partition will get.", samples: highWatermarks)
        out.family("kappa_log_start_offset", .gauge, help: "First offset still stored in the partition.", samples: starts)
        out.family("kappa_log_recovered_tails_total", .counter, help: "Torn or corrupt tails cut off when the log was opened.", value: Double(log.truncatedTailCount))
        out.family("kappa_log_disk_floor_bytes", .gauge, help: "Free disk below which appends are refused.", value: Double(log.diskFloorBytes))
        processors?.renderMetrics(into: &out)
        if let droppedAlerts {
            out.family("kappa_alerts_dropped_total", .counter, help: "Anomaly alerts that could not be published to MQTT.", value: Double(droppedAlerts.total))
        }
        return out.text
    }
}

/// What the processors report to /metrics and /readyz (filled in by the processor runtime).
protocol ProcessorReporting: Sendable {
    func renderMetrics(into out: inout PrometheusText)
    /// Reasons the processors are not ready (database unreachable, lag over the bound); empty when ready.
    func notReadyReasons() -> [String]
}
