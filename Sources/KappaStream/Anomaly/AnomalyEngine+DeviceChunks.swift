/// The engine's state in pieces, so that a checkpoint writes what changed rather than every series again.
///
/// The state is a small header (the engine's own counters, the device and series counts, the devices holding
/// detections in the order they began to) and one chunk per device: the device, its series with their indices
/// and metric names, their open episodes, and the deadlines of its own queue entries. Every part of the whole
/// snapshot belongs to exactly one of them, so a header and all chunks restore an engine whose `snapshot()` is
/// byte for byte the live one's. The deadline queue is rebuilt from the chunks' deadlines (see ``DeadlineQueue``).
extension AnomalyEngine {
    /// "KANH" read as a little-endian UInt32: a header, which a whole snapshot ("KANS") never starts with.
    static let headerMagic: UInt32 = 0x484E_414B
    static let headerVersion: UInt16 = 1

    /// Whether `bytes` is a header rather than a whole snapshot (what builds before incremental state saved).
    public static func isStateHeader(_ bytes: [UInt8]) -> Bool {
        var reader = SnapshotReader(bytes)
        return (try? reader.read(UInt32.self)) == headerMagic
    }

    /// The engine-level part of the state; the chunks are encoded with the detectors' snapshot encoding, whose
    /// version the header carries.
    public func stateHeader() -> [UInt8] {
        var writer = SnapshotWriter()
        writer.write(Self.headerMagic)
        writer.write(Self.headerVersion)
        writer.write(Self.snapshotVersion)
        encodeEngineCounters(into: &writer)
        writer.write(UInt32(devices.count))
        writer.write(UInt32(series.count))
        // (A whole snapshot leaves this order out and restores index order; the header keeps it exactly.)
        writer.write(UInt32(devicesWithPending.count))
        for device in devicesWithPending { writer.write(device) }
        return writer.bytes
    }

    /// Number of devices, so of chunks in a complete state.
    public var deviceCount: Int { devices.count }

    /// The devices changed since ``forgetChanges()``, with what encoding their chunks needs: their series (one
    /// pass over the series, or a look-up per metric when few devices changed) and their queue deadlines (one
    /// pass over the queue).
    public func changedDeviceChunks() -> AnomalyDeviceChunks {
        let changed = changedDevices.sorted
        var starts = [Int](repeating: 0, count: changed.count + 1)
        var members: [Int32] = []
        if changed.count * max(1, metricNames.count) < series.count / 4 {
            members.reserveCapacity(changed.count * 4)
            for (position, device) in changed.enumerated() {
                var own: [Int32] = []
                for metric in metricNames.indices {
                    if let index = devices[Int(device)].seriesIndex(ofMetric: Int32(metric)) { own.append(index) }
                }
                members += own.sorted()
                starts[position + 1] = members.count
            }
        } else {
            var rank = [Int32](repeating: -1, count: devices.count)
            for (position, device) in changed.enumerated() { rank[Int(device)] = Int32(position) }
            for state in series where rank[Int(state.device)] >= 0 { starts[Int(rank[Int(state.device)]) + 1] += 1 }
            for position in changed.indices { starts[position + 1] += starts[position] }
            members = [Int32](repeating: 0, count: starts[changed.count])
            var next = starts
            for index in series.indices where rank[Int(series[index].device)] >= 0 {
                let position = Int(rank[Int(series[index].device)])
                members[next[position]] = Int32(index)
                next[position] += 1
            }
        }
        // (A bit per series rather than each entry's series' device: the queue holds an entry for nearly every
        // series, and looking up their devices was a cache miss each.)
        var changedSeries = [UInt64](repeating: 0, count: (series.count + 63) / 64)
        for index in members { changedSeries[Int(index) >> 6] |= 1 << UInt64(index & 63) }
        var seriesDeadlines: [Int32: Int64] = [:], deviceDeadlines: [Int32: Int64] = [:]
        for entry in deadlines.entries {
            if entry.isDevice {
                if changedDevices.contains(Int(entry.index)) { deviceDeadlines[entry.index] = entry.deadline }
            } else if changedSeries[Int(entry.index) >> 6] & (1 << UInt64(entry.index & 63)) != 0 {
                seriesDeadlines[entry.index] = entry.deadline
            }
        }
        return AnomalyDeviceChunks(
            devices: changed, deviceCount: devices.count, seriesStarts: starts, series: members,
            seriesDeadlines: seriesDeadlines, deviceDeadlines: deviceDeadlines
        )
    }

    /// The chunk of the `position`th device of `chunks`, which must have been made from this engine unchanged.
    public func deviceChunk(_ position: Int, of chunks: AnomalyDeviceChunks) -> [UInt8] {
        let device = Int(chunks.devices[position])
        precondition(!isEvicted(device), "the chunk of an evicted device")
        let own = chunks.series[chunks.seriesStarts[position]..<chunks.seriesStarts[position + 1]]
        var writer = SnapshotWriter()
        let k = devices[device].profile.metricCount
        writer.reserve(400 + devices[device].pending.count * 64 + k * 48 + 2 * k * k * 8 + own.count * 300)
        writer.write(Int32(device))
        devices[device].encode(into: &writer)
        if devices[device].deadlineQueued { writer.write(queuedDeadline(chunks.deviceDeadlines[Int32(device)])) }
        writer.write(UInt32(own.count))
        var episodeCount = 0
        for index in own {
            let state = series[Int(index)]
            writer.write(index)
            writer.write(metricNames[Int(state.settingsIndex)])
            state.encode(into: &writer)
            if state.deadlineQueued { writer.write(queuedDeadline(chunks.seriesDeadlines[index])) }
            episodeCount += state.openEpisodes.nonzeroBitCount
        }
        // In key order (series, then detector), as the whole snapshot sorts them.
        writer.write(UInt32(episodeCount))
        for index in own {
            let open = series[Int(index)].openEpisodes
            for detector in AnomalyDetector.allCases.sorted() where open & (1 << detector.rawValue) != 0 {
                writer.write(index)
                writer.write(detector.rawValue)
                episodes[EpisodeKey(series: index, detector: detector)]!.encode(into: &writer)
            }
        }
        return writer.bytes
    }

    private func queuedDeadline(_ deadline: Int64?) -> Int64 {
        guard let deadline else { preconditionFailure("a series or device marked as queued has no entry in the deadline queue") }
        return deadline
    }

    /// The state was saved: nothing has changed since.
    public mutating func forgetChanges() { changedDevices.removeAll() }

    /// Every device counts as changed, so the next save writes all of them (after restoring a whole snapshot).
    public mutating func markEveryDeviceChanged() {
        precondition(evictedDeviceCount == 0, "an engine with evicted devices marked all changed")
        changedDevices.insertAll(below: devices.count)
    }

    /// Number of devices changed since the state was last saved.
    public var changedDeviceCount: Int { changedDevices.count }

    /// A fresh engine with `configuration` and the state of `header` and every device's chunk.
    public init(configuration: AnomalyConfiguration = AnomalyConfiguration(), header: [UInt8], deviceChunks: [[UInt8]]) throws(AnomalySnapshotError) {
        self.init(configuration: configuration)
        try restore(header: header, deviceChunks: deviceChunks)
    }

    /// Replaces all state with that of `header` and the chunks of all its devices, in device order; on error the
    /// engine is left as it was.
    public mutating func restore(header: [UInt8], deviceChunks: [[UInt8]]) throws(AnomalySnapshotError) {
        var restored = AnomalyEngine(configuration: configuration)
        var reader = SnapshotReader(header)
        guard try reader.read(UInt32.self) == Self.headerMagic else { throw AnomalySnapshotError(code: .badMagic, offset: 0) }
        let headerVersion: UInt16 = try reader.read(), chunkVersion: UInt16 = try reader.read()
        guard headerVersion == Self.headerVersion, chunkVersion == Self.snapshotVersion else {
            throw Self.unsupported("header \(headerVersion) with chunks of version \(chunkVersion), this build reads \(Self.headerVersion) with \(Self.snapshotVersion)")
        }
        try restored.readEngineCounters(from: &reader)
        let deviceCount = Int(try reader.read(UInt32.self)), seriesCount = Int(try reader.read(UInt32.self))
        // (A corrupt count must not allocate wildly: every series takes over 100 bytes of some chunk.)
        guard seriesCount <= deviceChunks.reduce(0, { $0 + $1.count }) / 100 else { throw reader.corrupt(at: 44) }
        let pendingCount = try reader.readCount(minimumItemSize: 4)
        var pendingOrder: [Int32] = []
        for _ in 0..<pendingCount { pendingOrder.append(try reader.read()) }
        guard reader.isAtEnd else { throw reader.corrupt() }
        guard deviceChunks.count == deviceCount else {
            throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "the header counts \(deviceCount) devices, \(deviceChunks.count) chunks were stored")
        }

        var metrics = [String?](repeating: nil, count: seriesCount)
        var states: [SeriesState] = []
        states.reserveCapacity(seriesCount)
        var seriesOrder = [Int32](repeating: -1, count: seriesCount)
        var entries: [DeadlineQueue.Entry] = []
        for (slot, chunk) in deviceChunks.enumerated() {
            let parsed = try ParsedDeviceChunk(chunk, slot: Int32(slot), seriesCount: seriesCount)
            guard restored.deviceIndex.updateValue(Int32(slot), forKey: parsed.device.name) == nil else {
                throw ParsedDeviceChunk.chunkError(slot, AnomalySnapshotError(code: .corrupt, offset: 0, detail: "a second device named \(parsed.device.name)"))
            }
            if let deadline = parsed.deviceDeadline { entries.append(.init(deadline: deadline, isDevice: true, index: Int32(slot))) }
            restored.devices.append(parsed.device)
            for member in parsed.series {
                guard metrics[Int(member.index)] == nil else { throw ParsedDeviceChunk.chunkError(slot, AnomalySnapshotError(code: .corrupt, offset: 0, detail: "series \(member.index) is in two chunks")) }
                metrics[Int(member.index)] = member.metric
                if let deadline = member.deadline { entries.append(.init(deadline: deadline, isDevice: false, index: member.index)) }
                seriesOrder[Int(member.index)] = Int32(states.count)
                states.append(member.state)
            }
            for (key, episode) in parsed.episodes { restored.episodes[key] = episode }
        }
        guard !seriesOrder.contains(-1) else {
            throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "the header counts \(seriesCount) series, the chunks hold \(states.count)")
        }
        // Settings slots by first appearance, as the live engine made them: a new metric always came with a new series.
        restored.series.reserveCapacity(seriesCount)
        for index in 0..<seriesCount {
            var state = states[Int(seriesOrder[index])]
            state.settingsIndex = restored.settingsSlot(metrics[index]!)
            guard restored.devices[Int(state.device)].seriesIndex(ofMetric: state.settingsIndex) == nil else {
                throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "device \(state.device) holds two series of one metric")
            }
            restored.devices[Int(state.device)].addSeries(Int32(index), ofMetric: state.settingsIndex)
            restored.series.append(state)
        }
        // Each series' open-episode bits must name exactly its episodes, or folding would trip over a missing one.
        var masks = [UInt8](repeating: 0, count: seriesCount)
        for key in restored.episodes.keys { masks[Int(key.series)] |= 1 << key.detector.rawValue }
        guard masks == restored.series.map(\.openEpisodes) else {
            throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "open episodes do not match their series")
        }
        let holding = restored.devices.indices.filter { !restored.devices[$0].pending.isEmpty }
        guard pendingOrder.map(Int.init).sorted() == holding,
              holding.allSatisfy({ restored.devices[$0].pending.allSatisfy { $0.series >= 0 && Int($0.series) < seriesCount } })
        else {
            throw AnomalySnapshotError(code: .corrupt, offset: 0, detail: "the devices holding detections do not match the header")
        }
        restored.devicesWithPending = pendingOrder
        restored.deadlines = DeadlineQueue(unordered: entries)
        self = restored
    }

}

/// One device's chunk read back: what a whole restore and the return of an evicted device (``AnomalyEngine/reload(device:chunk:)``)
/// both take from it, read by one piece of code so that the two cannot differ.
struct ParsedDeviceChunk {
    struct Member {
        var index: Int32
        var metric: String
        /// (Its `settingsIndex` is 0: the engine resolves it from `metric`.)
        var state: SeriesState
        var deadline: Int64?
    }

    var device: DeviceState
    var deviceDeadline: Int64?
    var series: [Member] = []
    var episodes: [(EpisodeKey, OpenEpisode)] = []

    /// The chunk of device `slot` of an engine of `seriesCount` series.
    init(_ chunk: [UInt8], slot: Int32, seriesCount: Int) throws(AnomalySnapshotError) {
        var reader = SnapshotReader(chunk)
        guard try reader.read(Int32.self) == slot else { throw Self.chunkError(Int(slot), reader.corrupt(at: 0)) }
        do throws(AnomalySnapshotError) {
            device = try DeviceState(from: &reader)
            if device.deadlineQueued { deviceDeadline = try reader.read() }
            let ownCount = try reader.readCount(minimumItemSize: 100)
            for _ in 0..<ownCount {
                let index: Int32 = try reader.read()
                guard index >= 0, Int(index) < seriesCount, !series.contains(where: { $0.index == index }) else { throw reader.corrupt() }
                let metric: String = try reader.read()
                let state = try SeriesState(from: &reader, settingsIndex: 0)
                guard state.device == slot else { throw reader.corrupt() }
                let deadline: Int64? = state.deadlineQueued ? try reader.read() : nil
                series.append(Member(index: index, metric: metric, state: state, deadline: deadline))
            }
            let episodeCount = try reader.readCount(minimumItemSize: 77)
            for _ in 0..<episodeCount {
                let index: Int32 = try reader.read()
                guard series.contains(where: { $0.index == index }), let detector = AnomalyDetector(rawValue: try reader.read()) else { throw reader.corrupt() }
                let key = EpisodeKey(series: index, detector: detector)
                guard !episodes.contains(where: { $0.0 == key }) else { throw reader.corrupt() }
                episodes.append((key, try OpenEpisode(from: &reader)))
            }
            guard reader.isAtEnd else { throw reader.corrupt() }
        } catch {
            throw Self.chunkError(Int(slot), error)
        }
    }

    static func chunkError(_ slot: Int, _ error: AnomalySnapshotError) -> AnomalySnapshotError {
        var error = error
        error.detail = "in the chunk of device \(slot)" + (error.detail.isEmpty ? "" : ": " + error.detail)
        return error
    }
}

/// What encoding the chunks of an engine's changed devices needs (``AnomalyEngine/changedDeviceChunks()``),
/// made once per checkpoint; each chunk is then encoded on its own, so they need not all be in memory at once.
public struct AnomalyDeviceChunks: Sendable {
    /// The changed devices, in index order.
    public let devices: [Int32]
    /// The engine's number of devices.
    public let deviceCount: Int
    let seriesStarts: [Int]
    let series: [Int32]
    let seriesDeadlines: [Int32: Int64]
    let deviceDeadlines: [Int32: Int64]

    public var count: Int { devices.count }
}
