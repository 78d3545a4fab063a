import Foundation
import KappaCore
@testable import KappaStream

/// Something planted in a synthetic series, from reading `at` for `length` readings.
struct Planted {
    var kind: AnomalyLabel.Kind
    var at: Int
    var length: Int
    /// In units of the series' noise.
    var magnitude: Double
}

/// A sensor signal: base, daily cycle, slow drift, Gaussian noise, optional quantisation, regular cadence with
/// jitter, and planted anomalies with their labels.
struct SyntheticSeries {
    var device = "dev-1"
    var metric = "temperature"
    var base = 20.0
    var dailyAmplitude = 5.0
    var driftPerDay = 0.5
    var noise = 0.2
    var quantum: Double? = nil
    var intervalSeconds = 10.0
    var jitter = 0.2
    var count = 2_000
    var start = Timestamp(secondsSinceEpoch: 1_795_000_000)
    var planted: [Planted] = []
    var seed: UInt64 = 1

    func times() -> [Timestamp] {
        var random = SplitMix64(seed: seed ^ 0xA5A5)
        var t = start.nanosecondsSinceEpoch
        return (0..<count).map { _ in
            defer { t += Int64(intervalSeconds * (1 + jitter * (random.unit() - 0.5)) * 1e9) }
            return Timestamp(nanosecondsSinceEpoch: t)
        }
    }

    func readings() -> [Reading] {
        var random = SplitMix64(seed: seed)
        let times = times()
        var result: [Reading] = []
        var stuckValue: Double? = nil
        for (i, time) in times.enumerated() {
            let seconds = Double(time.nanosecondsSinceEpoch - start.nanosecondsSinceEpoch) / 1e9
            var value = base + dailyAmplitude * sin(2 * .pi * seconds / 86_400 + Double(seed % 7)) + driftPerDay * seconds / 86_400
            var noiseScale = noise
            var dropped = false
            var stuck = false
            for p in planted where i >= p.at && i < p.at + p.length {
                switch p.kind {
                case .spike: value += p.magnitude * noise
                case .dip: value -= p.magnitude * noise
                case .levelShift: value += p.magnitude * noise
                case .drift: value += p.magnitude * noise * Double(i - p.at + 1) / Double(p.length)
                case .noiseBurst: noiseScale *= p.magnitude
                case .dropout: dropped = true
                case .stuck: stuck = true
                default: break
                }
            }
            value += noiseScale * random.gaussian()
            if let quantum { value = (value / quantum).rounded() * quantum }
            if stuck {
                if stuckValue == nil { stuckValue = result.last?.value ?? value }
                value = stuckValue!
            } else {
                stuckValue = nil
            }
            if !dropped { result.append(Reading(device: device, metric: metric, time: time, value: value)) }
        }
        return result
    }

    func labels() -> [AnomalyLabel] {
        let times = times()
        return planted.map { p in
            AnomalyLabel(
                device: device, metric: p.kind == .dropout ? AnomalyEpisode.wholeDevice : metric, kind: p.kind,
                start: times[p.at], end: times[min(p.at + p.length, times.count) - 1]
            )
        }
    }
}

/// Merges series into one stream in event-time order (ties by series order), as one partition would see it.
func merged(_ series: [[Reading]]) -> [Reading] {
    series.enumerated().flatMap { index, readings in readings.map { (index, $0) } }
        .sorted { ($0.1.time, $0.0) < ($1.1.time, $1.0) }
        .map(\.1)
}

/// Runs readings through an engine the way the runtime does: each reading, then the watermark at the
/// partition's latest event time.
func run(_ readings: some Sequence<Reading>, through engine: inout AnomalyEngine) -> [AnomalyEvent] {
    var events: [AnomalyEvent] = []
    var latest = Timestamp(nanosecondsSinceEpoch: .min)
    for reading in readings {
        engine.process(reading, into: &events)
        latest = max(latest, reading.time)
        engine.advanceWatermark(partitionTime: latest, into: &events)
    }
    return events
}

/// Every episode of a run (what is still held for judgement judged at the end): the closed ones as they
/// closed, then those still open.
func episodes(_ readings: [Reading], configuration: AnomalyConfiguration = AnomalyConfiguration()) -> [AnomalyEpisode] {
    var engine = AnomalyEngine(configuration: configuration)
    var events = run(readings, through: &engine)
    engine.judgeAllPending(into: &events)
    return events.compactMap { if case .episodeClosed(let e) = $0 { e } else { nil } } + engine.openEpisodes()
}
