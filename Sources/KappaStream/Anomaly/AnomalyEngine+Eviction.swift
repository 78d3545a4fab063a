/// Idle devices' detector state leaving memory, and coming back from their stored chunks exactly as it left.
///
/// **What leaves.** A device's state and its series' (cadences, baselines, detectors, profile, open episodes)
/// leave; a stub stays (``DeviceState/evictedStub``), and the device keeps its slot and its series their
/// indices. Chunks are stored by slot and hold series indices, so nothing is renumbered: an evicted device's
/// stored chunk reads back into the very slots it left, and the chunks stored are byte for byte those of an
/// engine that kept it. (Slots are the engine's own numbers, by device name; the ``SeriesRegistry``'s numbers,
/// which are given out again, never reach a chunk.) The slot and series tables themselves keep a stub entry per
/// device ever seen: what leaves is each device's variable part (its profile, held detections, episodes), and
/// its series' state is reset, so only the chunk can bring it back.
///
/// **When.** Right after a commit, so the stored chunk is the device's state (nothing changed since), and only
/// when the device holds no detections waiting for its instant's judgement (they are judged by other devices'
/// event time). Idleness is judged by the wall clock, like the other processors' (``SeriesMemory/idleAfter``):
/// it is memory that is at stake, and a backfill racing through days of event time keeps every device it still
/// reads, where an event-time limit would evict and reload the fleet over and over.
///
/// **Deadlines.** A silent device is what gap detection watches, and while a device stays silent its series'
/// queue entries are pushed again every device interval, for as long as it stays silent. Evicting only
/// devices without an entry would therefore keep nearly every silent device in memory. Instead the queue keeps an
/// evicted device's entries as they are (16 bytes each), and an entry that may fall due brings the device back
/// first: before a batch is applied, every evicted device with an entry before the batch's newest event time
/// is reloaded with those the batch has readings of (``devicesToReload(names:newestTime:)``), so a deadline is
/// always handled with the whole state, by the ordinary code. A device brought back only for a deadline (no
/// reading since) leaves again at the next commit. So the detectors never see an evicted device, and the
/// engine's output is the same as if nothing had left; the cost is reading a silent device's chunk about once
/// per device interval, beside the write of it the checkpoint makes anyway.
extension AnomalyEngine {
    func isEvicted(_ device: Int) -> Bool { device < evictedDevices.count && evictedDevices[device] }

    mutating func noteSeen(_ device: Int) {
        if device >= seenDevices.count { seenDevices.grow(to: max(device + 1, devices.count)) }
        seenDevices[device] = true
    }

    /// The evicted devices that readings of devices `names` up to event time `newestTime` would touch: those
    /// named, and those with a queue entry the watermark would pop. In slot order.
    public func devicesToReload(names: some Sequence<String>, newestTime: Int64) -> [Int32] {
        guard evictedDeviceCount > 0 else { return [] }
        var wanted = SeriesFlags()
        wanted.grow(to: devices.count)
        for name in names {
            if let slot = deviceIndex[name], isEvicted(Int(slot)) { wanted[Int(slot)] = true }
        }
        // The watermark only moves to a reading's time, and pops the entries before it.
        if newestTime > watermark {
            deadlines.forEach(before: newestTime) { entry in
                let device = entry.isDevice ? Int(entry.index) : Int(series[Int(entry.index)].device)
                if isEvicted(device) { wanted[device] = true }
            }
        }
        return wanted.setIndices.map { Int32($0) }
    }

    /// Brings an evicted device back from its stored chunk (a device already back is left alone). The chunk must be
    /// the one stored when it left, which its being clean then guarantees; its queue entries never left.
    public mutating func reload(device slot: Int32, chunk: [UInt8]) throws(AnomalySnapshotError) {
        let device = Int(slot)
        guard device >= 0, device < devices.count else {
            throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "a chunk for device \(slot) of \(devices.count)")
        }
        guard isEvicted(device) else { return }
        let parsed = try ParsedDeviceChunk(chunk, slot: slot, seriesCount: series.count)
        let stub = devices[device]
        let members = parsed.series.map(\.index).sorted()
        guard parsed.device.name == stub.name, parsed.device.deadlineQueued == stub.deadlineQueued, parsed.device.pending.isEmpty,
              members == stub.seriesIndices.sorted()
        else {
            throw ParsedDeviceChunk.chunkError(device, AnomalySnapshotError(code: .corrupt, offset: 0, detail: "the stored chunk is not the state the device left with"))
        }
        var restoredSeries: [(Int32, SeriesState)] = []
        for member in parsed.series {
            var state = member.state
            guard let settingsIndex = settingsIndexByMetric[member.metric], settingsIndex == series[Int(member.index)].settingsIndex,
                  state.deadlineQueued == series[Int(member.index)].deadlineQueued
            else {
                throw ParsedDeviceChunk.chunkError(device, AnomalySnapshotError(code: .corrupt, offset: 0, detail: "series \(member.index) does not match the one that left"))
            }
            state.settingsIndex = settingsIndex
            restoredSeries.append((member.index, state))
        }
        var masks: [Int32: UInt8] = [:]
        for (key, _) in parsed.episodes { masks[key.series, default: 0] |= 1 << key.detector.rawValue }
        guard restoredSeries.allSatisfy({ masks[$0.0, default: 0] == $0.1.openEpisodes }) else {
            throw ParsedDeviceChunk.chunkError(device, AnomalySnapshotError(code: .corrupt, offset: 0, detail: "open episodes do not match their series"))
        }
        var back = parsed.device
        for index in stub.seriesIndices {
            back.addSeries(index, ofMetric: series[Int(index)].settingsIndex)
        }
        devices[device] = back
        for (index, state) in restoredSeries { series[Int(index)] = state }
        for (key, episode) in parsed.episodes { episodes[key] = episode }
        evictedDevices[device] = false
        evictedDeviceCount -= 1
        reloads += 1
        reloadedDevices.append(slot)
    }

    /// Lets idle devices' state leave memory; call right after the state was committed (``forgetChanges()``).
    /// With `sweep`, every device without a reading since the previous sweep may leave, and a new sweep begins;
    /// without, only devices brought back since the last commit that took no reading (they came back for a
    /// deadline). Returns how many left.
    @discardableResult
    public mutating func evictIdleDevices(sweep: Bool) -> Int {
        var candidates: [Int]
        if sweep {
            seenDevices.grow(to: devices.count)
            candidates = (0..<devices.count).filter { !seenDevices[$0] }
            seenDevices.clearAll()
        } else {
            candidates = reloadedDevices.map(Int.init).filter { $0 >= seenDevices.count || !seenDevices[$0] }
        }
        reloadedDevices.removeAll()
        var evicted = 0
        for device in candidates where !isEvicted(device) && !changedDevices.contains(device) && devices[device].pending.isEmpty {
            evict(device)
            evicted += 1
        }
        return evicted
    }

    private mutating func evict(_ device: Int) {
        let stub = devices[device].evictedStub
        for index in stub.seriesIndices {
            let open = series[Int(index)].openEpisodes
            for detector in AnomalyDetector.allCases where open & (1 << detector.rawValue) != 0 {
                episodes.removeValue(forKey: EpisodeKey(series: index, detector: detector))
            }
            var left = SeriesState(device: Int32(device), settingsIndex: series[Int(index)].settingsIndex)
            left.deadlineQueued = series[Int(index)].deadlineQueued
            series[Int(index)] = left
        }
        devices[device] = stub
        evictedDevices.grow(to: devices.count)
        evictedDevices[device] = true
        evictedDeviceCount += 1
        evictions += 1
    }
}
