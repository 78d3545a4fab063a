extension AnomalyEngine {
    /// "KANS" read as a little-endian UInt32.
    static let snapshotMagic: UInt32 = 0x534E_414B
    /// 2: change-point onsets, held detections and settling per device.
    /// 3: the device-level profile (multivariate detector) per device, each series' slot in it, its tail
    /// quantile; arrival counts for judging silence by arrival.
    static let snapshotVersion: UInt16 = 3

    /// All detector state as compact little-endian bytes, versioned, in a fixed order (series and devices in
    /// order of first appearance, open episodes sorted), so equal states give equal bytes in any process.
    /// Resolved settings are not stored: they follow from the configuration at restore.
    public func snapshot() -> [UInt8] {
        precondition(evictedDeviceCount == 0, "a whole snapshot of an engine with evicted devices")
        var writer = SnapshotWriter()
        writer.reserve(snapshotSizeEstimate)
        writer.write(Self.snapshotMagic)
        writer.write(Self.snapshotVersion)
        encodeEngineCounters(into: &writer)
        writer.write(UInt32(devices.count))
        for device in devices { device.encode(into: &writer) }
        writer.write(UInt32(series.count))
        for state in series {
            writer.write(metricNames[Int(state.settingsIndex)])
            state.encode(into: &writer)
        }
        writer.write(UInt32(episodes.count))
        for key in episodes.keys.sorted() {
            writer.write(key.series)
            writer.write(key.detector.rawValue)
            episodes[key]!.encode(into: &writer)
        }
        deadlines.encode(into: &writer)
        return writer.bytes
    }

    /// A little over what `snapshot()` writes (series' and devices' fixed parts, profiles, names, queue entries).
    private var snapshotSizeEstimate: Int {
        var bytes = 64 + episodes.count * 80 + metricNames.reduce(0) { $0 + $1.utf8.count }
        for device in devices {
            let k = device.profile.metricCount
            bytes += 300 + device.name.utf8.count + device.pending.count * 64 + k * 48 + 2 * k * k * 8
        }
        bytes += series.count * (200 + 32) + devices.count * 32
        return bytes
    }

    /// A fresh engine with `configuration` and the state `snapshot()` wrote.
    public init(configuration: AnomalyConfiguration = AnomalyConfiguration(), snapshot: [UInt8]) throws(AnomalySnapshotError) {
        self.init(configuration: configuration)
        try restore(from: snapshot)
    }

    /// Replaces all state with the snapshot's; on error the engine is left as it was.
    public mutating func restore(from bytes: [UInt8]) throws(AnomalySnapshotError) {
        var restored = AnomalyEngine(configuration: configuration)
        var reader = SnapshotReader(bytes)
        guard try reader.read(UInt32.self) == Self.snapshotMagic else { throw AnomalySnapshotError(code: .badMagic, offset: 0) }
        let version: UInt16 = try reader.read()
        guard version == Self.snapshotVersion else {
            throw Self.unsupported("version \(version), this build reads \(Self.snapshotVersion)")
        }
        try restored.readEngineCounters(from: &reader)
        let deviceCount = try reader.readCount(minimumItemSize: 38)
        for index in 0..<deviceCount {
            let device = try DeviceState(from: &reader)
            guard restored.deviceIndex.updateValue(Int32(index), forKey: device.name) == nil else { throw reader.corrupt() }
            restored.devices.append(device)
        }
        let seriesCount = try reader.readCount(minimumItemSize: 100)
        for index in 0..<seriesCount {
            let metric: String = try reader.read()
            let state = try SeriesState(from: &reader, settingsIndex: restored.settingsSlot(metric))
            guard state.device >= 0, Int(state.device) < deviceCount else { throw reader.corrupt() }
            guard restored.devices[Int(state.device)].seriesIndex(ofMetric: state.settingsIndex) == nil else { throw reader.corrupt() }
            restored.devices[Int(state.device)].addSeries(Int32(index), ofMetric: state.settingsIndex)
            restored.series.append(state)
        }
        let episodeCount = try reader.readCount(minimumItemSize: 77)
        for _ in 0..<episodeCount {
            let series: Int32 = try reader.read()
            guard series >= 0, Int(series) < seriesCount, let detector = AnomalyDetector(rawValue: try reader.read()) else { throw reader.corrupt() }
            restored.episodes[EpisodeKey(series: series, detector: detector)] = try OpenEpisode(from: &reader)
        }
        // Each series' open-episode bits must name exactly its episodes, or folding would trip over a missing one.
        var masks = [UInt8](repeating: 0, count: seriesCount)
        for key in restored.episodes.keys { masks[Int(key.series)] |= 1 << key.detector.rawValue }
        guard masks == restored.series.map(\.openEpisodes) else { throw reader.corrupt() }
        for (index, device) in restored.devices.enumerated() where !device.pending.isEmpty {
            guard device.pending.allSatisfy({ $0.series >= 0 && Int($0.series) < seriesCount }) else { throw reader.corrupt() }
            restored.devicesWithPending.append(Int32(index))
        }
        restored.deadlines = try DeadlineQueue(from: &reader, seriesCount: seriesCount, deviceCount: deviceCount)
        guard reader.isAtEnd else { throw reader.corrupt() }
        self = restored
    }

    /// The engine's own counters, which are neither a device's nor a series': first in a whole snapshot and in a
    /// header of the state by device.
    func encodeEngineCounters(into writer: inout SnapshotWriter) {
        writer.write(watermark)
        writer.write(arrivals)
        writer.write(lateness)
        writer.write(longestTurn)
    }

    mutating func readEngineCounters(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        watermark = try reader.read()
        arrivals = try reader.read()
        lateness = try reader.read()
        longestTurn = try reader.read()
    }

    /// State of another version lacks what this version's detectors keep: rebuilding it from the log is the way back.
    static func unsupported(_ versions: String) -> AnomalySnapshotError {
        AnomalySnapshotError(
            code: .unsupportedVersion, offset: 4,
            detail: "\(versions); rebuild it from the log into a new version (kappa replay anomalies --from earliest --output-version <new>, then kappa versions activate)"
        )
    }
}
