import KappaCore
import KappaLog
import KappaMQTT

/// Renders what the gateway's parts report as Prometheus metrics, at scrape time (no global registry:
/// every figure is read from the part that owns it).
public struct GatewayMetrics: Sendable {
    public let log: GatewayLog
    public let streams: [any LogStream]
    public let bridge: MQTTBridge?
    public let processors: (any ProcessorReporting)?
    public var alerts: [AlertCounters]

    public init(log: DiskLog, streams: [DiskStream], bridge: MQTTBridge?, processors: (any ProcessorReporting)?, alerts: [AlertCounters] = []) {
        self.init(log: .disk(log), streams: streams, bridge: bridge, processors: processors, alerts: alerts)
    }

    public init(log: GatewayLog, streams: [any LogStream], bridge: MQTTBridge?, processors: (any ProcessorReporting)?, alerts: [AlertCounters] = []) {
        self.log = log
        self.streams = streams
        self.bridge = bridge
        self.processors = processors
        self.alerts = alerts
    }

    public func render() -> String {
        var out = PrometheusText()
        if let bridge {
            let stats = bridge.statistics.snapshot
            let templates = bridge.configuration.routes.map(\.template.description)
            out.family("kappa_mqtt_connected", .gauge, help: "1 while the bridge is connected to the broker.", value: bridge.isConnected ? 1 : 0)
            out.family("kappa_mqtt_connections_total", .counter, help: "Connections the broker accepted (reconnects included).", value: Double(bridge.connectionCount))
            out.family("kappa_mqtt_messages_total", .counter, help: "MQTT messages received, by topic template.",
                       samples: zip(templates, stats.messagesByRoute).map { ([("template", $0.0)], Double($0.1)) }
                           + [([("template", "(no match)")], Double(stats.messages - stats.messagesByRoute.reduce(0, +)))])
            out.family("kappa_mqtt_last_message_received_seconds", .gauge, help: "When the bridge read its latest message (Unix time); 0 before the first.",
                       value: stats.lastMessageReceivedAt.map { Double($0.nanosecondsSinceEpoch) / 1e9 } ?? 0)
            out.family("kappa_mqtt_payload_bytes_total", .counter, help: "Payload bytes received.", value: Double(stats.payloadBytes))
            out.family("kappa_readings_appended_total", .counter, help: "Readings appended to the log.", value: Double(stats.readings))
            out.family("kappa_mqtt_redelivered_messages_total", .counter, help: "Messages the broker sent again that the log already held: acknowledged, not stored twice.", value: Double(stats.redeliveredMessages))
            out.family("kappa_mqtt_redelivered_readings_total", .counter, help: "Readings of redelivered messages not stored twice.", value: Double(stats.redeliveredReadings))
            out.family("kappa_dead_letters_total", .counter, help: "Dead letters appended, by reason.",
                       samples: stats.deadLettersByReason.sorted { $0.key < $1.key }.map { ([("reason", $0.key)], Double($0.value)) })
            if bridge.configuration.sparkplug {
                out.family("kappa_sparkplug_sequence_gaps_total", .counter, help: "Sparkplug messages whose seq was not the one expected (each asks for a rebirth).", value: Double(stats.sparkplugSequenceGaps))
                out.family("kappa_sparkplug_stale_deaths_total", .counter, help: "Sparkplug NDEATHs ignored because their bdSeq was not the session's (a late will).", value: Double(stats.sparkplugStaleDeaths))
                out.family("kappa_sparkplug_rebirth_requests_total", .counter, help: "Sparkplug rebirth requests (NCMD Node Control/Rebirth) sent.", value: Double(stats.sparkplugRebirthRequests))
            }
            out.family("kappa_bridge_paused", .gauge, help: "1 while intake is paused because the log refuses appends.", value: stats.pausedBecause == nil ? 0 : 1)
        }
        var bytes: [(labels: [(String, String)], value: Double)] = []
        var highWatermarks: [(labels: [(String, String)], value: Double)] = []
        var starts: [(labels: [(String, String)], value: Double)] = []
        for stream in streams {
            for partition in 0..<stream.partitionCount {
                let labels = [("stream", stream.name), ("partition", String(partition))]
                let offsets: LogOffsetRange
                if let disk = stream as? DiskStream {
                    let summary = disk.summary(partition: partition)
                    bytes.append((labels, Double(summary.bytes)))
                    offsets = summary.offsets
                } else {
                    // JetStream's offsets as last refreshed by the bridge and the processors (no request here).
                    offsets = stream.offsets(partition: partition)
                }
                highWatermarks.append((labels, Double(offsets.highWatermark)))
                starts.append((labels, Double(offsets.start)))
            }
        }
        if log.disk != nil {
            out.family("kappa_log_bytes", .gauge, help: "Bytes on disk per log partition.", samples: bytes)
        }
        out.family("kappa_log_high_watermark", .gauge, help: "Offset the next record of the partition will get.", samples: highWatermarks)
        out.family("kappa_log_start_offset", .gauge, help: "First offset still stored in the partition.", samples: starts)
        if let disk = log.disk {
            renderDiskLog(disk, into: &out)
        } else if let connected = log.isJetStreamConnected {
            out.family("kappa_log_nats_connected", .gauge, help: "1 while the JetStream log's client is connected to a NATS server.", value: connected ? 1 : 0)
        }
        processors?.renderMetrics(into: &out)
        if !alerts.isEmpty {
            out.family("kappa_alerts_sent_total", .counter, help: "Anomaly alerts delivered, by sink (mqtt: handed to the client; webhook: answered 2xx).",
                       samples: alerts.map { ([("sink", $0.sink)], Double($0.sent)) })
            out.family("kappa_alerts_failed_total", .counter, help: "Failed attempts to deliver an anomaly alert, by sink (each retry counts).",
                       samples: alerts.map { ([("sink", $0.sink)], Double($0.failed)) })
            out.family("kappa_alerts_dropped_total", .counter, help: "Anomaly alerts given up on, by sink (queue full or retries exhausted; the episode stays in PostgreSQL).",
                       samples: alerts.map { ([("sink", $0.sink)], Double($0.dropped)) })
        }
        return out.text
    }

    /// What only the embedded log reports: recovery, losses, the disk floor.
    private func renderDiskLog(_ log: DiskLog, into out: inout PrometheusText) {
        out.family("kappa_log_recovered_tails_total", .counter, help: "Torn or corrupt tails cut off when the log was opened.", value: Double(log.truncatedTailCount))
        let losses = log.recordedLosses
        var lostByPartition: [String: (labels: [(String, String)], lost: Int64, unacknowledged: Int64)] = [:]
        for stream in streams {
            for partition in 0..<stream.partitionCount {
                lostByPartition["\(stream.name)/\(partition)"] = ([("stream", stream.name), ("partition", String(partition))], 0, 0)
            }
        }
        for loss in losses {
            let key = "\(loss.stream)/\(loss.partition)"
            var entry = lostByPartition[key] ?? ([("stream", loss.stream), ("partition", String(loss.partition))], 0, 0)
            entry.lost += loss.count
            if !loss.acknowledged { entry.unacknowledged += loss.count }
            lostByPartition[key] = entry
        }
        let lostSamples = lostByPartition.sorted { $0.key < $1.key }.map(\.value)
        out.family("kappa_log_records_lost_total", .counter, help: "Acknowledged records the log lost (a corrupt tail cut by recovery, or committed by a processor beyond the log's end), ever; their offsets are never reused.",
                   samples: lostSamples.map { ($0.labels, Double($0.lost)) })
        out.family("kappa_log_records_lost_unacknowledged", .gauge, help: "Lost records no operator acknowledged yet (kappa log acknowledge-loss); /readyz is not ready while above 0.",
                   samples: lostSamples.map { ($0.labels, Double($0.unacknowledged)) })
        out.family("kappa_log_disk_floor_bytes", .gauge, help: "Free disk below which appends are refused.", value: Double(log.diskFloorBytes))
    }
}

/// What the processors report to /metrics and /readyz (filled in by the processor runtime).
public protocol ProcessorReporting: Sendable {
    func renderMetrics(into out: inout PrometheusText)
    /// Reasons the processors are not ready (database unreachable, lag over the bound); empty when ready.
    func notReadyReasons() -> [String]
}
