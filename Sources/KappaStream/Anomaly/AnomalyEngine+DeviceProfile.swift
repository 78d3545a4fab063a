/// Feeding the device-level detector (``DeviceProfile``) and folding its instants into device-level episodes.
///
/// A device's instant (its readings of one event time) is judged when its first reading of a later time
/// arrives, or at the end of a finite stream; so the score sees all metrics of the instant, and replay judges
/// the same instants with the same readings.
extension AnomalyEngine {
    mutating func observeProfile(
        series index: Int, device: Int, time: Int64, value: Double, residualZ: Double, into events: inout [AnomalyEvent]
    ) {
        let settings = configuration.defaults
        guard settings.enabled.contains(.multivariate) else { return }
        if series[index].profileSlot == SeriesState.unassigned {
            series[index].profileSlot = devices[device].profile.addMetric() ?? SeriesState.outside
        }
        let slot = series[index].profileSlot
        guard slot >= 0 else { return }
        if time > devices[device].profile.instantTime {
            judgeProfileInstant(device: device, into: &events)
            devices[device].profile.instantTime = time
            devices[device].profile.instantJudged = false
        }
        devices[device].profile.observe(slot: Int(slot), value: value, residualZ: residualZ, settings)
    }

    /// Scores the device's gathered instant, once, and opens, extends or closes its device-level episode.
    mutating func judgeProfileInstant(device: Int, into events: inout [AnomalyEvent]) {
        guard !devices[device].profile.instantJudged, devices[device].profile.instantTime != .min else { return }
        changedDevices.insert(device)
        devices[device].profile.instantJudged = true
        let settings = configuration.defaults
        let time = devices[device].profile.instantTime
        let score = devices[device].profile.score(settings)
        let elevated = score >= settings.deviceRelease
        if elevated {
            if devices[device].profile.elevatedSince == .min { devices[device].profile.elevatedSince = time }
        } else {
            devices[device].profile.elevatedSince = .min
        }
        let name = devices[device].name
        if var episode = devices[device].profile.episode {
            if elevated, time - episode.detectedAt > Int64(settings.deviceAbsorbInstants) * max(1, Int64(devices[device].cadence.expectedInterval)) {
                // Held that long, the departure is the device's new normal (a new operating point, a recalibrated
                // sensor): the profile takes it in and the episode ends where it last was anomalous.
                devices[device].profile.absorbCurrentLevels(settings)
                devices[device].profile.episode = nil
                devices[device].profile.elevatedSince = .min
                events.append(.episodeClosed(episode.episode(device: name, metric: AnomalyEpisode.wholeDevice, detector: .multivariate, closed: true, settings)))
            } else if elevated {
                devices[device].profile.calmInstants = 0
                let grew = episode.extend(Detection(start: episode.start, score: score, value: .nan, expectedLow: .nan, expectedHigh: .nan), at: time, settings)
                devices[device].profile.episode = episode
                if grew { events.append(.episodeUpdated(episode.episode(device: name, metric: AnomalyEpisode.wholeDevice, detector: .multivariate, closed: false, settings))) }
            } else {
                devices[device].profile.calmInstants += 1
                guard devices[device].profile.calmInstants >= Int64(settings.deviceCloseInstants) else { return }
                devices[device].profile.episode = nil
                events.append(.episodeClosed(episode.episode(device: name, metric: AnomalyEpisode.wholeDevice, detector: .multivariate, closed: true, settings)))
            }
        } else if score >= settings.deviceAlarm {
            let onset = devices[device].profile.elevatedSince
            let episode = OpenEpisode(Detection(start: onset, score: score, value: .nan, expectedLow: .nan, expectedHigh: .nan), at: time)
            devices[device].profile.episode = episode
            devices[device].profile.calmInstants = 0
            events.append(.episodeOpened(episode.episode(device: name, metric: AnomalyEpisode.wholeDevice, detector: .multivariate, closed: false, settings)))
        }
    }
}
