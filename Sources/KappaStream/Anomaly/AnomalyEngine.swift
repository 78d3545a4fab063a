import KappaCore

/// The anomaly processor's pure core: readings and watermarks in, episode events out, state as bytes.
///
/// Deterministic: the same readings and watermark calls in the same order give the same events, in any
/// process and across `snapshot()`/`restore(from:)`. Per-series state is a few hundred bytes, and a reading
/// that raises no alarm allocates nothing.
///
/// Readings of one series must arrive in event-time order for the stateful detectors; duplicates and late
/// readings (not after the series' latest) are only checked against thresholds.
public struct AnomalyEngine: Sendable {
    public let configuration: AnomalyConfiguration
    /// Per metric name, in order of first appearance: its resolved settings and the name itself. A series'
    /// `settingsIndex` is its metric's place here, so a series' names are its device's and its metric's: no key
    /// of two strings per series, and no table from such keys (each device finds its series by metric instead).
    var settingsTable: [DetectorSettings] = []
    var metricNames: [String] = []
    var settingsIndexByMetric: [String: Int32] = [:]
    var series: [SeriesState] = []
    var devices: [DeviceState] = []
    var deviceIndex: [String: Int32] = [:]
    var episodes: [EpisodeKey: OpenEpisode] = [:]
    var deadlines = DeadlineQueue()
    var watermark = Int64.min
    /// Devices holding pending detections, in the order they began to.
    var devicesWithPending: [Int32] = []
    /// Readings taken in, in log order: the clock by which arrival is judged (the same on replay).
    var arrivals: Int64 = 0
    /// How far behind the partition's event time readings have lately been arriving (nanoseconds, a slowly
    /// decaying maximum): devices racing ahead of one another (a burst, a backlog draining) widen it, and a
    /// device counts as silent only once the others have passed its allowance by more than this.
    var lateness = 0.0
    /// The longest wait of a device for its next instant lately, in readings (a slowly decaying maximum): in a
    /// burst some publisher always waits long for its turn, and waiting that long is no sign of silence.
    var longestTurn = 0.0
    /// Devices whose chunk of the state (``deviceChunk(_:)``) changed since the engine's state was last saved:
    /// every path that changes a device, its series, their episodes or their deadlines marks it, or an
    /// incremental checkpoint would leave that device behind.
    var changedDevices = ChangedDevices()
    /// Idle devices' state leaving memory and coming back (see AnomalyEngine+Eviction): the devices that took a
    /// reading since the last idle sweep, those whose state is out of memory, and those brought back since the
    /// last commit. Process-local, never saved.
    var seenDevices = SeriesFlags()
    var evictedDevices = SeriesFlags()
    var reloadedDevices: [Int32] = []
    /// Devices whose state is out of memory now; devices evicted and brought back since the engine was made.
    public internal(set) var evictedDeviceCount = 0
    public internal(set) var evictions: Int64 = 0
    public internal(set) var reloads: Int64 = 0

    /// Per reading: a spread seen once is forgotten over some tens of thousands of readings.
    static let latenessDecay = 0.99995

    public init(configuration: AnomalyConfiguration = AnomalyConfiguration()) {
        self.configuration = configuration
    }

    /// Number of (device, metric) series seen.
    public var seriesCount: Int { series.count }

    /// The latest partition event time given to `advanceWatermark`.
    public var currentWatermark: Timestamp? { watermark == .min ? nil : Timestamp(nanosecondsSinceEpoch: watermark) }

    // MARK: Readings

    public mutating func process(_ reading: Reading) -> [AnomalyEvent] {
        var events: [AnomalyEvent] = []
        process(reading, into: &events)
        return events
    }

    /// Runs every detector over one reading and appends the episode events it causes.
    public mutating func process(_ reading: Reading, into events: inout [AnomalyEvent]) {
        let time = reading.time.nanosecondsSinceEpoch, value = reading.value
        guard value.isFinite else { return }
        arrivals &+= 1
        if watermark != .min { lateness = max(Double(max(0, watermark - time)), lateness * Self.latenessDecay) }
        let index = slot(device: reading.device, metric: reading.metric)
        changedDevices.insert(Int(series[index].device))
        noteSeen(Int(series[index].device))
        let settings = settingsTable[Int(series[index].settingsIndex)]
        noteDeviceReading(Int(series[index].device), at: time, into: &events)

        let breach = ThresholdDetector.check(value, at: time, settings)
        let hovering = breach == nil && series[index].openEpisodes & (1 << AnomalyDetector.threshold.rawValue) != 0
            && ThresholdDetector.isNear(value, margin: 3 * series[index].baseline.scale(settings), settings)
        if !hovering { fold(breach, .threshold, index, time, settings, into: &events) }
        guard !series[index].isStale(time) else { return }
        let device = Int(series[index].device)
        if !devices[device].pending.isEmpty, devices[device].pendingTime != time {
            judgePending(device: device, into: &events)
        }
        if series[index].openEpisodes & (1 << AnomalyDetector.gap.rawValue) != 0 {
            closeGap(series: index, at: time, settings, into: &events)
        }
        let verdict = series[index].observe(time: time, value: value, settings)
        foldOrHold(verdict.spike, .spike, index, device: device, time, settings, into: &events)
        // A quantity lagging a change of operating state (a bearing warming up) moves like a change point.
        let settling = time <= devices[device].settlingUntil
        foldOrHold(settling ? nil : verdict.changePoint, .changePoint, index, device: device, time, settings, into: &events)
        fold(verdict.rateOfChange, .rateOfChange, index, time, settings, into: &events)
        fold(verdict.flatline, .flatline, index, time, settings, into: &events)
        observeProfile(series: index, device: device, time: time, value: value, residualZ: verdict.z, into: &events)
        if settings.enabled.contains(.gap), !series[index].deadlineQueued, let deadline = series[index].cadence.silentAfter(settings) {
            deadlines.push(.init(deadline: deadline, isDevice: false, index: Int32(index)))
            series[index].deadlineQueued = true
        }
    }

    private mutating func slot(device: String, metric: String) -> Int {
        let deviceIndex = deviceSlot(device)
        precondition(!isEvicted(Int(deviceIndex)), "a reading of an evicted device before it was reloaded")
        let metricIndex = settingsSlot(metric)
        if let index = devices[Int(deviceIndex)].seriesIndex(ofMetric: metricIndex) { return Int(index) }
        let index = Int32(series.count)
        series.append(SeriesState(device: deviceIndex, settingsIndex: metricIndex))
        devices[Int(deviceIndex)].addSeries(index, ofMetric: metricIndex)
        return Int(index)
    }

    private mutating func deviceSlot(_ name: String) -> Int32 {
        if let index = deviceIndex[name] { return index }
        let index = Int32(devices.count)
        devices.append(DeviceState(name: name))
        deviceIndex[name] = index
        return index
    }

    mutating func settingsSlot(_ metric: String) -> Int32 {
        if let index = settingsIndexByMetric[metric] { return index }
        let index = Int32(settingsTable.count)
        settingsTable.append(configuration.settings(for: metric))
        metricNames.append(metric)
        settingsIndexByMetric[metric] = index
        return index
    }

    private mutating func noteDeviceReading(_ index: Int, at time: Int64, into events: inout [AnomalyEvent]) {
        let settings = configuration.defaults
        let cadence = devices[index].cadence
        if var gap = devices[index].gap, time > cadence.lastTime {
            gap.peakScore = max(gap.peakScore, cadence.silenceScore(at: time, settings))
            gap.lastAnomalous = time
            events.append(.episodeClosed(gap.episode(device: devices[index].name, metric: AnomalyEpisode.wholeDevice, detector: .gap, closed: true, settings)))
            devices[index].gap = nil
        } else if settings.enabled.contains(.gap), time > cadence.lastTime, cadence.silentAfter(settings) != nil,
                  Double(time - cadence.lastTime) > settings.gapFactor * cadence.expectedInterval {
            // (The minimum silence guards against judging by other devices' time; a device's own hole needs none.)
            // The device's own next reading shows a silence no other device's time had declared (the device is
            // alone in its partition, or its data was imported): one device-level gap, over as it is found.
            var gap = OpenEpisode(Detection(start: cadence.lastTime, score: cadence.silenceScore(at: time, settings), value: .nan, expectedLow: .nan, expectedHigh: .nan), at: time)
            gap.lastAnomalous = time
            events.append(.episodeOpened(gap.episode(device: devices[index].name, metric: AnomalyEpisode.wholeDevice, detector: .gap, closed: false, settings)))
            events.append(.episodeClosed(gap.episode(device: devices[index].name, metric: AnomalyEpisode.wholeDevice, detector: .gap, closed: true, settings)))
        }
        if cadence.readings == 0 { devices[index].firstTime = time }
        if cadence.readings > 0, time > cadence.lastTime {
            let spacing = Double(arrivals - devices[index].lastArrival)
            longestTurn = max(spacing, longestTurn * Self.latenessDecay)
            let learnt = devices[index].arrivalSpacing
            devices[index].arrivalSpacing = learnt == 0 ? spacing : learnt + 0.1 * (min(spacing, 3 * learnt) - learnt)
        }
        if cadence.readings == 0 || time > cadence.lastTime { devices[index].lastArrival = arrivals }
        if cadence.readings > 0, time > cadence.lastTime { devices[index].previousTime = cadence.lastTime }
        devices[index].cadence.observe(time)
        if settings.enabled.contains(.gap), !devices[index].deadlineQueued, let deadline = devices[index].cadence.silentAfter(settings) {
            deadlines.push(.init(deadline: deadline, isDevice: true, index: Int32(index)))
            devices[index].deadlineQueued = true
        }
    }

    // MARK: Episodes

    mutating func fold(
        _ detection: Detection?, _ detector: AnomalyDetector, _ index: Int, _ time: Int64, _ settings: DetectorSettings,
        into events: inout [AnomalyEvent]
    ) {
        let bit: UInt8 = 1 << detector.rawValue
        let isOpen = series[index].openEpisodes & bit != 0
        guard detection != nil || isOpen else { return }
        let key = EpisodeKey(series: Int32(index), detector: detector)
        // After an alarm the series has a quiet period: what follows a fault (its echoes, the settling) is not
        // news. Configured limits are always reported.
        if !isOpen, detector != .threshold, series[index].quietDetectors & bit != 0 { return }
        if let detection {
            if isOpen {
                if episodes[key]!.extend(detection, at: time, settings) {
                    events.append(.episodeUpdated(report(episodes[key]!, key, closed: false, settings)))
                }
            } else {
                let episode = OpenEpisode(detection, at: time)
                episodes[key] = episode
                series[index].openEpisodes |= bit
                events.append(.episodeOpened(report(episode, key, closed: false, settings)))
            }
        } else if episodes[key]!.calm(at: time, settings) {
            let episode = episodes.removeValue(forKey: key)!
            series[index].openEpisodes &= ~bit
            if settings.quietReadings > 0 {
                series[index].quietReadings = Int32(clamping: settings.quietReadings)
                series[index].quietDetectors |= bit
            }
            events.append(.episodeClosed(report(episode, key, closed: true, settings)))
        }
    }

    private func report(_ episode: OpenEpisode, _ key: EpisodeKey, closed: Bool, _ settings: DetectorSettings) -> AnomalyEpisode {
        let state = series[Int(key.series)]
        return episode.episode(
            device: devices[Int(state.device)].name, metric: metricNames[Int(state.settingsIndex)], detector: key.detector, closed: closed, settings
        )
    }

    /// The series spoke again: its silence ends at this reading.
    private mutating func closeGap(series index: Int, at time: Int64, _ settings: DetectorSettings, into events: inout [AnomalyEvent]) {
        let key = EpisodeKey(series: Int32(index), detector: .gap)
        guard var episode = episodes.removeValue(forKey: key) else { return }
        episode.peakScore = max(episode.peakScore, series[index].cadence.silenceScore(at: time, settings))
        episode.lastAnomalous = time
        series[index].openEpisodes &= ~(1 << AnomalyDetector.gap.rawValue)
        events.append(.episodeClosed(report(episode, key, closed: true, settings)))
    }

    /// Every episode still open, in series order then detector order (device gaps after series).
    public func openEpisodes() -> [AnomalyEpisode] {
        precondition(evictedDeviceCount == 0, "open episodes of an engine with evicted devices")
        var open = episodes.keys.sorted().map { key in
            report(episodes[key]!, key, closed: false, settingsTable[Int(series[Int(key.series)].settingsIndex)])
        }
        for device in devices {
            if let gap = device.gap {
                open.append(gap.episode(device: device.name, metric: AnomalyEpisode.wholeDevice, detector: .gap, closed: false, configuration.defaults))
            }
            if let episode = device.profile.episode {
                open.append(episode.episode(device: device.name, metric: AnomalyEpisode.wholeDevice, detector: .multivariate, closed: false, configuration.defaults))
            }
        }
        return open
    }

    // MARK: Event-time progress

    public mutating func advanceWatermark(partitionTime: Timestamp) -> [AnomalyEvent] {
        var events: [AnomalyEvent] = []
        advanceWatermark(partitionTime: partitionTime, into: &events)
        return events
    }

    /// The partition's event time reached `partitionTime` (the latest event time seen in it): declares the
    /// series and devices silent for longer than their learned allowance. Replay makes the same calls with the
    /// same times, so it finds the same gaps as the live run did.
    public mutating func advanceWatermark(partitionTime: Timestamp, into events: inout [AnomalyEvent]) {
        let now = partitionTime.nanosecondsSinceEpoch
        guard now > watermark else { return }
        watermark = now
        judgePending(before: now, into: &events)
        while let entry = deadlines.first, entry.deadline < now {
            _ = deadlines.popFirst()
            // The entry's deadline is part of its device's chunk, whether it is pushed again or not.
            let device = entry.isDevice ? Int(entry.index) : Int(series[Int(entry.index)].device)
            precondition(!isEvicted(device), "a deadline of an evicted device fell due before it was reloaded")
            changedDevices.insert(device)
            if entry.isDevice {
                checkDevice(Int(entry.index), now: now, into: &events)
            } else {
                checkSeries(Int(entry.index), now: now, into: &events)
            }
        }
    }

    private mutating func checkDevice(_ index: Int, now: Int64, into events: inout [AnomalyEvent]) {
        let settings = configuration.defaults
        guard let silentAfter = devices[index].cadence.silentAfter(settings) else {
            devices[index].deadlineQueued = false
            return
        }
        guard silentAfter < now else {
            deadlines.push(.init(deadline: silentAfter, isDevice: true, index: Int32(index)))
            return
        }
        let margin = Int64(lateness)
        guard silentAfter &+ margin < now, isSilentByArrival(index, deadline: silentAfter &+ margin) else {
            // Other devices' event time ran ahead, but no further than readings have lately been arriving behind
            // it (a burst, a backlog draining), or those devices began only after this one ended (an import):
            // look again later.
            deadlines.push(.init(deadline: max(now, silentAfter &+ margin) &+ max(1, Int64(devices[index].cadence.expectedInterval)), isDevice: true, index: Int32(index)))
            return
        }
        devices[index].deadlineQueued = false
        let cadence = devices[index].cadence
        let detection = Detection(start: cadence.lastTime, score: cadence.silenceScore(at: now, settings), value: .nan, expectedLow: .nan, expectedHigh: .nan)
        let gap = OpenEpisode(detection, at: now)
        devices[index].gap = gap
        events.append(.episodeOpened(gap.episode(device: devices[index].name, metric: AnomalyEpisode.wholeDevice, detector: .gap, closed: false, settings)))
    }

    /// A device is silent by arrival when some device that was reporting alongside it has moved past `deadline`
    /// in event time, and it has waited far longer for its next reading than the devices reporting alongside it
    /// typically wait now: `gapFactor` times its own usual wait, times twice the median of theirs, and times the
    /// longest wait any device of the partition came back from lately.
    /// Live, a device's turn comes every round of the partition's devices, so the median wait is half a round; in
    /// a burst, publishers take turns in long runs and every device waits long, so waiting is no sign of silence.
    private func isSilentByArrival(_ index: Int, deadline: Int64) -> Bool {
        let device = devices[index]
        let factor = configuration.defaults.gapFactor
        let wait = Double(arrivals - device.lastArrival)
        guard wait > factor * max(device.arrivalSpacing, 1) else { return false }
        var othersWaiting: [Int64] = []
        var passed = false
        for other in devices.indices where other != index && devices[other].gap == nil && devices[other].firstTime <= device.cadence.lastTime {
            othersWaiting.append(arrivals - devices[other].lastArrival)
            if devices[other].cadence.lastTime > deadline { passed = true }
        }
        guard passed else { return false }
        othersWaiting.sort()
        let median = Double(othersWaiting[othersWaiting.count / 2])
        return wait > factor * max(2 * median, longestTurn, 1)
    }

    private mutating func checkSeries(_ index: Int, now: Int64, into events: inout [AnomalyEvent]) {
        let settings = settingsTable[Int(series[index].settingsIndex)]
        guard let silentAfter = series[index].cadence.silentAfter(settings) else {
            series[index].deadlineQueued = false
            return
        }
        guard silentAfter < now else {
            deadlines.push(.init(deadline: silentAfter, isDevice: false, index: Int32(index)))
            return
        }
        // A series is silent when its own device's time has passed its allowance: a whole device gone silent is
        // one device-level episode, not one per metric, and other devices' time says nothing about this one.
        let device = Int(series[index].device)
        guard devices[device].previousTime > silentAfter else {
            deadlines.push(.init(deadline: now &+ max(1, Int64(devices[device].cadence.expectedInterval)), isDevice: false, index: Int32(index)))
            return
        }
        series[index].deadlineQueued = false
        let cadence = series[index].cadence
        let detection = Detection(
            start: cadence.lastTime, score: cadence.silenceScore(at: devices[device].cadence.lastTime, settings), value: series[index].lastValue,
            expectedLow: .nan, expectedHigh: .nan
        )
        let key = EpisodeKey(series: Int32(index), detector: .gap)
        let gap = OpenEpisode(detection, at: now)
        episodes[key] = gap
        series[index].openEpisodes |= 1 << AnomalyDetector.gap.rawValue
        events.append(.episodeOpened(report(gap, key, closed: false, settings)))
    }
}
