import KappaCore

/// The simulated fleet as a deterministic sequence of messages, without any MQTT: the publisher sends it,
/// the anomaly evaluation runs detectors over it in-process, and the tests inspect it.
///
/// Messages come in send-time order (ties: device index). Each carries the labels that became final while it
/// was generated; `finish()` returns the labels of anomalies still running when the caller stops.
public struct Fleet: MessageSource {
    public let scenario: FleetScenario
    private var devices: [DeviceState]
    private var schedule = MinHeap<ScheduledTick>()
    private var output = TickOutput()
    private var readyHead = 0
    private var ended = false
    private var endMilliseconds: Int64?

    private struct ScheduledTick: Comparable {
        var time: Int64
        var device: Int

        static func < (lhs: ScheduledTick, rhs: ScheduledTick) -> Bool {
            (lhs.time, lhs.device) < (rhs.time, rhs.device)
        }
    }

    public var startTime: Timestamp { scenario.start }

    public init(_ scenario: FleetScenario) {
        precondition(!scenario.kinds.isEmpty, "a fleet needs at least one device kind")
        self.scenario = scenario
        let encoders = Dictionary(uniqueKeysWithValues: DeviceKind.allCases.map { ($0, PayloadEncoder(metrics: $0.metrics)) })
        devices = (0..<Swift.max(0, scenario.deviceCount)).map { index in
            DeviceState(index: index, scenario: scenario, encoder: encoders[scenario.kinds[index % scenario.kinds.count]]!)
        }
        for (index, device) in devices.enumerated() {
            schedule.push(ScheduledTick(time: device.nextTick, device: index))
        }
        endMilliseconds = scenario.end.map { $0.nanosecondsSinceEpoch / 1_000_000 }
    }

    /// The next message, or nil once the scenario's end time is reached (never, without one).
    public mutating func next() -> SimulatedMessage? {
        while readyHead == output.ready.count {
            output.ready.removeAll(keepingCapacity: true)
            readyHead = 0
            if ended { return nil }
            guard let due = schedule.min else {
                drainAtEnd()
                continue
            }
            if let endMilliseconds, due.time >= endMilliseconds {
                drainAtEnd()
                continue
            }
            if let held = output.held.min, held.release <= due.time {
                _ = output.held.popMin()
                output.ready.append(DeviceState.release(held.message, as: .late, at: held.release))
                continue
            }
            devices[due.device].tick(scenario, into: &output)
            schedule.replaceMin(with: ScheduledTick(time: devices[due.device].nextTick, device: due.device))
        }
        var message = output.ready[readyHead]
        readyHead += 1
        if !output.labels.isEmpty {
            message.labels += output.labels
            output.labels.removeAll(keepingCapacity: true)
        }
        return message
    }

    /// Labels of the anomalies and clock-skew episodes still in progress, ended at their last tick so far.
    /// Call once, when done taking messages; the ground truth is every message's labels plus these.
    public mutating func finish() -> [GroundTruthLabel] {
        var labels = output.labels
        output.labels.removeAll()
        for index in devices.indices {
            if let anomaly = devices[index].anomaly {
                labels.append(devices[index].label(for: anomaly))
                devices[index].anomaly = nil
            }
            if let skew = devices[index].skew {
                labels.append(GroundTruthLabel(
                    device: devices[index].storedDevice, metric: "*", kind: .chaos(.clockSkew),
                    start: Timestamp(millisecondsSinceEpoch: skew.start), end: Timestamp(millisecondsSinceEpoch: skew.last),
                    offsetMilliseconds: skew.offsetMilliseconds
                ))
                devices[index].skew = nil
            }
        }
        return labels
    }

    /// At the end time: partial batches, messages held out of order and late ones go out, then nothing more.
    private mutating func drainAtEnd() {
        ended = true
        let endTime = endMilliseconds ?? 0
        for index in devices.indices {
            if !devices[index].batch.isEmpty {
                output.ready.append(devices[index].takeBatch(sendTime: devices[index].batch.last!.time))
            }
            if let held = devices[index].heldOutOfOrder {
                devices[index].heldOutOfOrder = nil
                let sendTime = Swift.max(endTime, held.eventTime.nanosecondsSinceEpoch / 1_000_000)
                output.ready.append(DeviceState.release(held, as: .outOfOrder, at: sendTime))
            }
        }
        while let held = output.held.popMin() {
            output.ready.append(DeviceState.release(held.message, as: .late, at: held.release))
        }
    }

    /// The first `limit` messages (fewer if the scenario ends sooner) and the complete ground truth for them.
    public static func generate(_ scenario: FleetScenario, limit: Int) -> (messages: [SimulatedMessage], labels: [GroundTruthLabel]) {
        var fleet = Fleet(scenario)
        var messages: [SimulatedMessage] = []
        while messages.count < limit, let message = fleet.next() {
            messages.append(message)
        }
        let labels = messages.flatMap(\.labels) + fleet.finish()
        return (messages, labels)
    }
}
