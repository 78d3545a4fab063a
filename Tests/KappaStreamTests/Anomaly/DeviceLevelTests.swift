import Foundation
import KappaCore
import Testing
@testable import KappaStream

/// The device-level (multivariate) detector, and time judged per device: its own cadence and arrival.
@Suite struct DeviceLevelTests {
    /// Two metrics of one device that move together (a random walk and its echo); from `breakAt` the second
    /// mirrors the first instead, continuing from where it was: each metric on its own still looks the same.
    func pair(breakAt: Int?, count: Int = 3_000, seed: UInt64 = 7) -> [Reading] {
        var random = SplitMix64(seed: seed)
        func gaussian() -> Double { (random.unit() + random.unit() + random.unit() + random.unit() - 2) * 1.7 }
        let start = Timestamp(secondsSinceEpoch: 1_795_000_000)
        var x = 50.0, pivot = 0.0
        var readings: [Reading] = []
        for i in 0..<count {
            x += gaussian()
            if i == breakAt { pivot = x }
            let echo = breakAt.map { i >= $0 ? 2 * pivot - x : x } ?? x
            let time = start.adding(nanoseconds: Int64(i) * 1_000_000_000)
            readings.append(Reading(device: "pump-1", metric: "inflow", time: time, value: x + 0.1 * gaussian()))
            readings.append(Reading(device: "pump-1", metric: "outflow", time: time, value: echo + 0.1 * gaussian()))
        }
        return readings
    }

    @Test func aRelationChangeNoMetricShowsIsFoundByTheDeviceDetector() throws {
        let breakAt = 2_000
        let readings = pair(breakAt: breakAt)
        let found = episodes(readings)
        let breakTime = readings[2 * breakAt].time
        let device = try #require(found.first { $0.detector == .multivariate }, "\(found)")
        #expect(device.metric == AnomalyEpisode.wholeDevice)
        #expect(device.detectedAt >= breakTime, "\(found)")
        let univariate = found.filter { $0.detector != .multivariate && $0.startTime >= breakTime }
        #expect(univariate.isEmpty, "no metric alone shows the change: \(univariate)")
        // The same pair without the break raises nothing at all.
        #expect(episodes(pair(breakAt: nil)).isEmpty)
    }

    @Test func oneMetricDeviceIsLeftToItsOwnDetectors() {
        let readings = pair(breakAt: nil).filter { $0.metric == "inflow" }
        #expect(episodes(readings).allSatisfy { $0.detector != .multivariate })
    }

    /// Smooth signals of `devices` devices, one reading a second each. The first `live` readings of each arrive
    /// in step, as they were measured; the rest in chunks of random length per device, as concurrent publishers
    /// draining a backlog at full speed would send them: a device's event time runs ahead of another's by up to
    /// `maximumLead` readings.
    func burst(devices: Int, readings count: Int, maximumLead: Int, live: Int = 0, seed: UInt64) -> [Reading] {
        var random = SplitMix64(seed: seed)
        let start = Timestamp(secondsSinceEpoch: 1_795_000_000)
        var next = [Int](repeating: 0, count: devices)
        var result: [Reading] = []
        func reading(_ device: Int, _ i: Int) {
            let seconds = Double(i)
            let time = start.adding(nanoseconds: Int64(i) * 1_000_000_000)
            let phase = Double(device) * 0.7
            result.append(Reading(device: "env-\(device)", metric: "temperature", time: time, value: 20 + 3 * sin(seconds / 900 + phase)))
            result.append(Reading(device: "env-\(device)", metric: "humidity", time: time, value: 50 + 8 * cos(seconds / 1_300 + phase)))
        }
        for i in 0..<live {
            for device in 0..<devices { reading(device, i) }
        }
        for device in 0..<devices { next[device] = live }
        while next.contains(where: { $0 < count }) {
            let device = Int(random.next() % UInt64(devices))
            let slowest = next.min()!
            guard next[device] < count, next[device] - slowest < maximumLead else { continue }
            let chunk = 1 + Int(random.next() % 40)
            for _ in 0..<chunk where next[device] < count {
                reading(device, next[device])
                next[device] += 1
            }
        }
        return result
    }

    @Test func aBurstOfDevicesRacingAheadOfEachOtherRaisesNoGap() {
        let found = episodes(burst(devices: 20, readings: 1_500, maximumLead: 300, seed: 11))
        #expect(found.filter { $0.detector == .gap }.isEmpty, "\(found.prefix(5))")
    }

    @Test func aBacklogDrainedAfterAnOutageRaisesNoGap() {
        // Live for 800 s, then the devices' buffered readings of the outage arrive all at once, racing.
        let found = episodes(burst(devices: 20, readings: 1_500, maximumLead: 300, live: 800, seed: 12))
        #expect(found.filter { $0.detector == .gap }.isEmpty, "\(found.prefix(5))")
    }

    @Test func aSilentDeviceIsOneDeviceLevelGap() throws {
        // Device env-3 stops after 800 s of a lockstep fleet; the others go on.
        let found = episodes(burst(devices: 6, readings: 1_500, maximumLead: 1, live: 1_500, seed: 13).filter { reading in
            reading.device != "env-3" || reading.time < Timestamp(secondsSinceEpoch: 1_795_000_800)
        })
        let gaps = found.filter { $0.detector == .gap }
        #expect(gaps.count == 1, "\(gaps)")
        let gap = try #require(gaps.first)
        #expect(gap.device == "env-3" && gap.metric == AnomalyEpisode.wholeDevice && gap.endTime == nil)
    }

    @Test func devicesImportedOneAfterAnotherRaiseNoGap() {
        let first = SyntheticSeries(device: "file-1", count: 1_000, seed: 3).readings()
        var second = SyntheticSeries(device: "file-2", count: 1_000, seed: 4)
        second.start = first.last!.time.adding(nanoseconds: 10_000_000_000)
        let found = episodes(first + second.readings())
        #expect(found.filter { $0.detector == .gap }.isEmpty, "\(found)")
    }
}
