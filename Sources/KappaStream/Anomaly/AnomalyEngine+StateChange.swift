/// Telling a device that changed its operating state from a sensor that failed.
///
/// A machine starting its shift moves its current and vibration together, in one instant; a faulty sensor,
/// a stuck value or a spike moves one metric. So the spikes and change points of one device at one event
/// time are held until the device's readings of that instant have all been seen (the first reading of a
/// later instant, or the partition's event time moving past it), then judged together: when at least
/// `stateChangeMetrics` series jumped, their baselines take the new levels and the device settles without
/// alarms for `stateChangeSettleNanoseconds`; otherwise each detection folds into its episode as usual,
/// with its own event time, so replay and delay figures do not depend on when the judgement was made.
extension AnomalyEngine {
    /// Folds a detection now, or holds it for its device's judgement when state changes are looked for.
    mutating func foldOrHold(
        _ detection: Detection?, _ detector: AnomalyDetector, _ index: Int, device: Int, _ time: Int64, _ settings: DetectorSettings,
        into events: inout [AnomalyEvent]
    ) {
        guard let detection, configuration.defaults.stateChangeMetrics > 0 else {
            fold(detection, detector, index, time, settings, into: &events)
            return
        }
        if devices[device].pending.isEmpty {
            devices[device].pendingTime = time
            devicesWithPending.append(Int32(device))
        }
        devices[device].pending.append(PendingDetection(series: Int32(index), detector: detector, detection: detection))
    }

    /// Judges every device whose held instant is before `now`, in the order they began to hold.
    mutating func judgePending(before now: Int64, into events: inout [AnomalyEvent]) {
        guard !devicesWithPending.isEmpty else { return }
        for device in devicesWithPending where devices[Int(device)].pendingTime < now {
            judgePending(device: Int(device), into: &events)
        }
    }

    /// Judges everything still held, for the end of a finite stream (an evaluation); a running processor
    /// leaves it to event time.
    public mutating func judgeAllPending(into events: inout [AnomalyEvent]) {
        precondition(evictedDeviceCount == 0, "the end of a stream judged with devices evicted")
        for device in devicesWithPending { judgePending(device: Int(device), into: &events) }
        for device in devices.indices { judgeProfileInstant(device: device, into: &events) }
    }

    mutating func judgePending(device: Int, into events: inout [AnomalyEvent]) {
        let held = devices[device].pending, time = devices[device].pendingTime
        guard !held.isEmpty else { return }
        changedDevices.insert(device)
        devices[device].pending.removeAll()
        devicesWithPending.removeAll { $0 == Int32(device) }
        let defaults = configuration.defaults
        var jumped: [Int32] = []
        for detection in held where detection.detector == .spike && !jumped.contains(detection.series) {
            jumped.append(detection.series)
        }
        if jumped.count >= defaults.stateChangeMetrics {
            for detection in held where detection.detector == .spike {
                series[Int(detection.series)].baseline.relevel(to: detection.detection.value)
                series[Int(detection.series)].changePoint.reset()
            }
            devices[device].settlingUntil = time &+ defaults.stateChangeSettleNanoseconds
            return
        }
        for detection in held {
            let index = Int(detection.series)
            fold(detection.detection, detection.detector, index, time, settingsTable[Int(series[index].settingsIndex)], into: &events)
        }
    }
}
