import KappaCore
import KappaSparkplug

/// What a device tick hands back to the fleet: messages to send now, messages held back until a later
/// simulated time, and labels that became final.
struct TickOutput {
    var ready: [SimulatedMessage] = []
    var held = MinHeap<HeldMessage>()
    var labels: [GroundTruthLabel] = []
    var heldSequence = 0
}

/// A message held back (late chaos) until `release`; `sequence` keeps equal release times in a fixed order.
struct HeldMessage: Comparable {
    var release: Int64
    var sequence: Int
    var message: SimulatedMessage

    static func < (lhs: HeldMessage, rhs: HeldMessage) -> Bool {
        (lhs.release, lhs.sequence) < (rhs.release, rhs.sequence)
    }

    static func == (lhs: HeldMessage, rhs: HeldMessage) -> Bool {
        lhs.release == rhs.release && lhs.sequence == rhs.sequence
    }
}

/// An anomaly in progress on one device.
struct ActiveAnomaly {
    var kind: AnomalyKind
    /// Index into the device's metrics; nil for a dropout (the whole device).
    var metric: Int?
    var start: Int64
    var last: Int64
    var ticksDone = 0
    var ticksTotal: Int
    /// Signed size of the change (spike, dip, level shift, final drift) or the burst's noise deviation.
    var magnitude: Double
    var stuckValue: Double?
}

/// A clock-skew episode in progress.
struct ActiveSkew {
    var offsetMilliseconds: Int64
    var start: Int64
    var last: Int64
    var ticksDone = 0
    var ticksTotal: Int
}

/// One device of the fleet: identity, topics, signal, its random streams and what is in progress.
struct DeviceState {
    let id: String
    let index: Int
    let kind: DeviceKind
    /// The device and metric names the gateway stores (and the labels name): the simulator's own, or as the
    /// format's family or Sparkplug layout names them.
    let storedDevice: String
    let storedMetrics: [String]
    let family: DeviceFamily?
    /// The Sparkplug format's edge node of this device.
    let edgeNode: SparkplugEdgeNode?
    /// Where its telemetry goes: `devices/{device}/telemetry`, the family's topic, or its Sparkplug DDATA topic.
    let telemetryTopic: String
    let metricTopics: [String]
    let lineTopic: String
    let encoder: PayloadEncoder
    let intervalMilliseconds: Double
    var signal: DeviceSignal
    /// Noise and intervals.
    var random: SplitMix64
    /// When and what anomalies start: separate, so that enabling anomalies leaves the signal's draws alone.
    var events: SplitMix64
    /// Transport faults: separate for the same reason.
    var chaosRandom: SplitMix64
    var nextTick: Int64
    var anomaly: ActiveAnomaly?
    var skew: ActiveSkew?
    var heldOutOfOrder: SimulatedMessage?
    var batch: [(time: Int64, timestamp: Int64, values: [Double])] = []
    /// Messages sent so far (a family's frame counter).
    var sent = 0

    init(index: Int, scenario: FleetScenario, encoder: PayloadEncoder) {
        let kind = scenario.kinds[index % scenario.kinds.count]
        let id = scenario.deviceID(index)
        self.id = id
        self.index = index
        self.kind = kind
        let prefix = scenario.normalizedPrefix
        family = scenario.format.family
        if scenario.format == .sparkplug {
            let edgeNode = scenario.sparkplug.edgeNode(ofDevice: index)
            self.edgeNode = edgeNode
            telemetryTopic = SparkplugTopic(edgeNode: edgeNode, messageType: .deviceData, device: id).topic
            storedDevice = scenario.sparkplug.storedDevice(id, index: index)
        } else {
            edgeNode = nil
            telemetryTopic = family?.topic(prefix: prefix, device: id) ?? "\(prefix)devices/\(id)/telemetry"
            storedDevice = id
        }
        storedMetrics = family?.storedMetrics(kind) ?? kind.metrics.map(\.name)
        metricTopics = scenario.format == .number ? kind.metrics.map { "\(prefix)devices/\(id)/\($0.name)" } : []
        lineTopic = prefix + scenario.lineTopic.replacingAll("{device}", with: id)
        self.encoder = encoder
        let stream = UInt64(index) &* 4
        random = SplitMix64(seed: scenario.seed, stream: stream)
        events = SplitMix64(seed: scenario.seed, stream: stream + 1)
        chaosRandom = SplitMix64(seed: scenario.seed, stream: stream + 2)
        let startMilliseconds = scenario.start.nanosecondsSinceEpoch / 1_000_000
        signal = DeviceSignal(kind: kind, startMilliseconds: startMilliseconds, random: &random)
        let cadence = scenario.cadence ?? kind.cadenceRange
        intervalMilliseconds = random.uniform(cadence) * 1_000
        // Devices do not all report at the fleet's first instant: each starts somewhere in its first interval.
        nextTick = startMilliseconds + Int64(random.unit() * intervalMilliseconds)
    }

    /// Produces the tick due at `nextTick` and schedules the next one.
    mutating func tick(_ scenario: FleetScenario, into output: inout TickOutput) {
        let time = nextTick
        let interval = intervalMilliseconds * (1 + scenario.jitter * random.uniform(-1...1))
        nextTick = time + max(1, Int64(interval.rounded()))
        var values = signal.values(at: time, random: &random)

        if anomaly == nil, !scenario.anomalyKinds.isEmpty, events.chance(scenario.anomalyRate) {
            anomaly = startAnomaly(scenario.anomalyKinds, at: time, values: values)
        }
        if var active = anomaly {
            if let metric = active.metric {
                values[metric] = Self.apply(active, to: values[metric], random: &events)
            }
            active.ticksDone += 1
            active.last = time
            if active.ticksDone >= active.ticksTotal {
                output.labels.append(label(for: active))
                anomaly = nil
            } else {
                anomaly = active
            }
            if active.metric == nil { return }
        }
        for index in values.indices { values[index] = PayloadBytes.rounded(values[index]) }

        var timestamp = time
        if skew == nil, scenario.format != .number, chaosRandom.chance(scenario.chaos.clockSkew) {
            let sign: Int64 = chaosRandom.chance(0.5) ? 1 : -1
            skew = ActiveSkew(
                offsetMilliseconds: sign * Int64(chaosRandom.uniform(30_000...3_600_000)),
                start: time, last: time, ticksTotal: chaosRandom.integer(20...200)
            )
        }
        if var active = skew {
            timestamp += active.offsetMilliseconds
            active.ticksDone += 1
            active.last = time
            if active.ticksDone >= active.ticksTotal {
                output.labels.append(GroundTruthLabel(
                    device: storedDevice, metric: "*", kind: .chaos(.clockSkew),
                    start: Timestamp(millisecondsSinceEpoch: active.start), end: Timestamp(millisecondsSinceEpoch: active.last),
                    offsetMilliseconds: active.offsetMilliseconds
                ))
                skew = nil
            } else {
                skew = active
            }
        }

        for message in messages(scenario, time: time, timestamp: timestamp, values: values) {
            deliver(message, scenario, time: time, into: &output)
        }
        addBadMessages(scenario, time: time, into: &output)
    }

    /// The readings the gateway stores from a tick's message: the metrics, and a family's extra fields.
    private func readings(timestamp: Int64, values: [Double], source: TimeSource = .device) -> [Reading] {
        let time = Timestamp(millisecondsSinceEpoch: timestamp)
        let tags = family?.tags(kind, index: index) ?? []
        var readings = zip(storedMetrics, values).map { metric, value in
            Reading(device: storedDevice, metric: metric, time: time, value: value, timeSource: source, tags: tags)
        }
        for extra in family?.extraReadings(kind) ?? [] {
            readings.append(Reading(device: storedDevice, metric: extra.metric, time: time, value: extra.value, timeSource: source, tags: tags))
        }
        return readings
    }

    private mutating func messages(_ scenario: FleetScenario, time: Int64, timestamp: Int64, values: [Double]) -> [SimulatedMessage] {
        let eventTime = Timestamp(millisecondsSinceEpoch: time)
        var payload: [UInt8] = []
        payload.reserveCapacity(128)
        sent += 1
        switch scenario.format {
        case .zigbee2mqtt, .tasmota, .shelly, .ttn:
            family!.encode(device: id, index: index, kind: kind, timestampMilliseconds: timestamp, values: values, counter: sent, to: &payload)
        case .sparkplug:
            let content = SparkplugContent(edgeNode: edgeNode!, device: id, metrics: signal.metrics.map(\.name), values: values,
                                           time: Timestamp(millisecondsSinceEpoch: timestamp))
            return [SimulatedMessage(device: storedDevice, topic: telemetryTopic, payload: [], eventTime: eventTime, sendTime: eventTime,
                                     readings: readings(timestamp: timestamp, values: values), sparkplug: content)]
        case .json:
            encoder.object(timestampMilliseconds: timestamp, values: values, to: &payload)
        case .values:
            encoder.valuesObject(timestampMilliseconds: timestamp, values: values, to: &payload)
        case .line:
            encoder.lines(device: id, timestampMilliseconds: timestamp, values: values, to: &payload)
            return [SimulatedMessage(device: storedDevice, topic: lineTopic, payload: payload, eventTime: eventTime, sendTime: eventTime,
                                     readings: readings(timestamp: timestamp, values: values))]
        case .number:
            return zip(signal.metrics, values).enumerated().map { position, pair in
                SimulatedMessage(
                    device: storedDevice, topic: metricTopics[position], payload: PayloadEncoder.number(pair.1), eventTime: eventTime, sendTime: eventTime,
                    readings: [Reading(device: id, metric: pair.0.name, time: eventTime, value: pair.1, timeSource: .received)]
                )
            }
        case .batch:
            batch.append((time, timestamp, values))
            guard batch.count >= max(1, scenario.batchSize) else { return [] }
            return [takeBatch(sendTime: time)]
        }
        return [SimulatedMessage(device: storedDevice, topic: telemetryTopic, payload: payload, eventTime: eventTime, sendTime: eventTime,
                                 readings: readings(timestamp: timestamp, values: values))]
    }

    /// The batched ticks as one message (also used to flush a partial batch at the end of a run).
    mutating func takeBatch(sendTime: Int64) -> SimulatedMessage {
        var payload: [UInt8] = [UInt8(ascii: "[")]
        var all: [Reading] = []
        for (position, entry) in batch.enumerated() {
            if position > 0 { payload.append(UInt8(ascii: ",")) }
            encoder.object(timestampMilliseconds: entry.timestamp, values: entry.values, to: &payload)
            all += readings(timestamp: entry.timestamp, values: entry.values)
        }
        payload.append(UInt8(ascii: "]"))
        let last = batch.last?.time ?? sendTime
        batch.removeAll(keepingCapacity: true)
        return SimulatedMessage(device: storedDevice, topic: telemetryTopic, payload: payload, eventTime: Timestamp(millisecondsSinceEpoch: last),
                                sendTime: Timestamp(millisecondsSinceEpoch: sendTime), readings: all)
    }

    /// Sends a message now, or holds it back (late, out of order), or sends it twice (duplicate).
    private mutating func deliver(_ message: SimulatedMessage, _ scenario: FleetScenario, time: Int64, into output: inout TickOutput) {
        let chaos = scenario.chaos
        if chaosRandom.chance(chaos.late) {
            let release = time + Int64(chaosRandom.uniform(30_000...600_000))
            output.held.push(HeldMessage(release: release, sequence: output.heldSequence, message: message))
            output.heldSequence += 1
            return
        }
        if heldOutOfOrder == nil, chaosRandom.chance(chaos.outOfOrder) {
            heldOutOfOrder = message
            return
        }
        output.ready.append(message)
        if let held = heldOutOfOrder {
            heldOutOfOrder = nil
            output.ready.append(Self.release(held, as: .outOfOrder, at: time))
        }
        if chaosRandom.chance(chaos.duplicate) {
            output.ready.append(Self.release(message, as: .duplicate, at: time))
        }
    }

    /// The message sent at `time` as a fault of `kind`, labelled.
    static func release(_ message: SimulatedMessage, as kind: ChaosKind, at time: Int64) -> SimulatedMessage {
        var copy = message
        copy.sendTime = Timestamp(millisecondsSinceEpoch: time)
        copy.chaos = kind
        copy.labels = [GroundTruthLabel(
            device: message.device, metric: "*", kind: .chaos(kind), start: message.eventTime, end: copy.sendTime, topic: message.topic
        )]
        return copy
    }

    private mutating func addBadMessages(_ scenario: FleetScenario, time: Int64, into output: inout TickOutput) {
        let eventTime = Timestamp(millisecondsSinceEpoch: time)
        // Sent as they are, on the edge node's connection.
        let sparkplug = edgeNode.map { SparkplugContent(edgeNode: $0, device: id, time: eventTime) }
        // Bad messages go to the topic of the first metric where topics name metrics.
        let metricIndex = 0
        let topic: String = switch scenario.format {
        case .number: metricTopics[metricIndex]
        case .line: lineTopic
        default: telemetryTopic
        }
        if chaosRandom.chance(scenario.chaos.malformed) {
            let (payload, reason) = BadPayloads.malformed(
                format: scenario.format, variant: chaosRandom.integer(0...3), timestampMilliseconds: time,
                metric: signal.metrics[metricIndex].name
            )
            output.ready.append(SimulatedMessage(
                device: storedDevice, topic: topic, payload: payload, eventTime: eventTime, sendTime: eventTime, readings: [],
                labels: [GroundTruthLabel(device: storedDevice, metric: "*", kind: .chaos(.malformed), start: eventTime, end: eventTime, topic: topic, reason: reason)],
                chaos: .malformed, sparkplug: sparkplug
            ))
        }
        if chaosRandom.chance(scenario.chaos.oversized) {
            let payload = BadPayloads.oversized(format: scenario.format, excess: chaosRandom.integer(1...65_536), timestampMilliseconds: time)
            output.ready.append(SimulatedMessage(
                device: storedDevice, topic: topic, payload: payload, eventTime: eventTime, sendTime: eventTime, readings: [],
                labels: [GroundTruthLabel(device: storedDevice, metric: "*", kind: .chaos(.oversized), start: eventTime, end: eventTime, topic: topic, reason: .oversizedPayload)],
                chaos: .oversized, sparkplug: sparkplug
            ))
        }
    }

    // MARK: - Anomalies

    private mutating func startAnomaly(_ kinds: [AnomalyKind], at time: Int64, values: [Double]) -> ActiveAnomaly? {
        let kind = kinds[events.integer(0...(kinds.count - 1))]
        let candidates = signal.metrics.indices.filter { !signal.metrics[$0].isCounter }
        let metric: Int? = kind == .dropout ? nil : candidates[events.integer(0...(candidates.count - 1))]
        let scale = metric.map { signal.metrics[$0].anomalyScale } ?? 0
        let sign: Double = events.chance(0.5) ? 1 : -1
        let ticks = kind.lastsSeveralReadings ? events.integer(10...60) : 1
        let magnitude: Double = switch kind {
        case .spike: scale * events.uniform(1.5...2.5)
        case .dip: -scale * events.uniform(1.5...2.5)
        case .levelShift: sign * scale * events.uniform(0.8...1.2)
        case .drift: sign * scale * events.uniform(1.5...2.5)
        case .noiseBurst: scale * events.uniform(0.3...0.5)
        case .stuck, .dropout: 0
        }
        return ActiveAnomaly(
            kind: kind, metric: metric, start: time, last: time, ticksTotal: ticks, magnitude: magnitude,
            stuckValue: metric.map { values[$0] }
        )
    }

    private static func apply(_ anomaly: ActiveAnomaly, to value: Double, random: inout SplitMix64) -> Double {
        switch anomaly.kind {
        case .spike, .dip, .levelShift: value + anomaly.magnitude
        case .drift: value + anomaly.magnitude * Double(anomaly.ticksDone + 1) / Double(anomaly.ticksTotal)
        case .stuck: anomaly.stuckValue ?? value
        case .noiseBurst: value + anomaly.magnitude * random.gaussian()
        case .dropout: value
        }
    }

    func label(for anomaly: ActiveAnomaly) -> GroundTruthLabel {
        GroundTruthLabel(
            device: storedDevice, metric: anomaly.metric.map { storedMetrics[$0] } ?? "*", kind: .anomaly(anomaly.kind),
            start: Timestamp(millisecondsSinceEpoch: anomaly.start), end: Timestamp(millisecondsSinceEpoch: anomaly.last)
        )
    }
}

extension String {
    /// Without Foundation's `replacingOccurrences`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
