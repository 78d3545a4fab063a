import Foundation
import KappaCore
@testable import KappaStream

/// Seeded series over the same hours with every anomaly kind mixed in, some clean, for the evaluation and
/// restart tests. Devices carry one or two metrics; dropouts silence the whole device.
struct SyntheticFleet {
    var series: [SyntheticSeries] = []

    init(devices: Int, seed: UInt64, hours: Double = 8) {
        var random = SplitMix64(seed: seed)
        let kinds: [AnomalyLabel.Kind] = [.spike, .dip, .levelShift, .drift, .stuck, .dropout, .noiseBurst]
        for d in 0..<devices {
            // Every device covers the same span, so none falls silent at the end of the stream.
            let interval = [5.0, 10, 20, 30][Int(random.next() % 4)]
            let count = Int(hours * 3_600 / interval)
            let metrics = random.next() % 2 == 0 ? ["temperature"] : ["temperature", "humidity"]
            // Most devices get one anomaly, some none; well past warm-up, away from the end.
            let kind: AnomalyLabel.Kind? = random.next() % 5 == 0 ? nil : kinds[Int(random.next() % UInt64(kinds.count))]
            let at = max(count / 5, 100) + Int(random.next() % UInt64(max(1, count / 2)))
            let victim = Int(random.next() % UInt64(metrics.count))
            for (m, metric) in metrics.enumerated() {
                var s = SyntheticSeries()
                s.device = String(format: "env-%05d", d)
                s.metric = metric
                s.base = metric == "temperature" ? 15 + 10 * random.unit() : 30 + 40 * random.unit()
                s.noise = 0.05 + 0.4 * random.unit()
                s.dailyAmplitude = s.noise * (5 + 40 * random.unit())
                s.driftPerDay = s.noise * (random.unit() * 10 - 5)
                s.intervalSeconds = interval
                s.count = count
                s.seed = seed &* 1_000 &+ UInt64(d * 2 + m)
                if let kind, kind == .dropout || m == victim {
                    s.planted = [Self.plant(kind, at: at, random: &random)]
                }
                series.append(s)
            }
        }
    }

    static func plant(_ kind: AnomalyLabel.Kind, at: Int, random: inout SplitMix64) -> Planted {
        switch kind {
        case .spike, .dip: Planted(kind: kind, at: at, length: 1 + Int(random.next() % 3), magnitude: 8 + 8 * random.unit())
        case .levelShift: Planted(kind: kind, at: at, length: 100 + Int(random.next() % 200), magnitude: 6 + 6 * random.unit())
        case .drift: Planted(kind: kind, at: at, length: 40 + Int(random.next() % 40), magnitude: 30 + 20 * random.unit())
        case .stuck: Planted(kind: kind, at: at, length: 60 + Int(random.next() % 100), magnitude: 0)
        case .dropout: Planted(kind: kind, at: at, length: 30 + Int(random.next() % 100), magnitude: 0)
        default: Planted(kind: kind, at: at, length: 20 + Int(random.next() % 40), magnitude: 6 + 4 * random.unit())
        }
    }

    /// The merged stream, cut where the first series ends (jitter makes their ends differ), so that the end
    /// of the data does not look like devices falling silent.
    var readings: [Reading] {
        let all = series.map { $0.readings() }
        let horizon = all.compactMap { $0.last?.time }.min() ?? Timestamp(nanosecondsSinceEpoch: 0)
        return merged(all).filter { $0.time <= horizon }
    }

    /// One label per planted anomaly (a dropout, planted on every metric of its device, is labelled once).
    var labels: [AnomalyLabel] {
        var seen = Set<AnomalyLabel>()
        return series.flatMap { $0.labels() }.filter { seen.insert($0).inserted }
    }
}
