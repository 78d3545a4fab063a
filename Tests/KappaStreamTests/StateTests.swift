import KappaCore
import Testing
@testable import KappaStream

@Suite struct StateTests {
    /// Checks and enters a reading, as the intake does.
    private func check(_ window: inout DuplicateWindow, series: UInt32, time: Int64, value: Double, newest: inout [UInt32: Int64]) -> Bool {
        let duplicate = window.contains(series: series, time: time, valueBits: value.bitPattern, newestTime: newest[series])
        window.insert(series: series, time: time, valueBits: value.bitPattern)
        newest[series] = max(newest[series] ?? .min, time)
        return duplicate
    }

    @Test func duplicateWindowFindsRedeliveriesOnlyWithinItsWindow() {
        var window = DuplicateWindow(capacity: 4)
        var newest: [UInt32: Int64] = [:]
        #expect(!check(&window, series: 1, time: 10, value: 1, newest: &newest))
        #expect(check(&window, series: 1, time: 10, value: 1, newest: &newest))
        #expect(!check(&window, series: 1, time: 10, value: 2, newest: &newest), "another value at the same time is a reading of its own")
        #expect(!check(&window, series: 2, time: 10, value: 1, newest: &newest), "another series")
        for time in 20..<24 { _ = check(&window, series: 3, time: Int64(time), value: 0, newest: &newest) }
        #expect(!check(&window, series: 1, time: 10, value: 1, newest: &newest), "fell out of the window")
    }

    @Test func chanMergeEqualsOneSequentialPass() {
        var random = SplitMix64(seed: 5)
        let values = (0..<1000).map { _ in Double(random.next() % 1_000_000) / 7 + 1e6 }
        func cell(_ slice: ArraySlice<Double>, start: Int) -> RollupCell {
            var cell = RollupCell(value: slice.first!, time: Int64(start), isLate: false)
            for (index, value) in slice.dropFirst().enumerated() { cell.add(value: value, time: Int64(start + index + 1), isLate: false) }
            return cell
        }
        let whole = cell(values[...], start: 0)
        for cut in [1, 10, 500, 999] {
            var merged = cell(values[..<cut], start: 0)
            merged.merge(cell(values[cut...], start: cut))
            #expect(merged.count == whole.count && merged.min == whole.min && merged.max == whole.max)
            #expect(merged.firstValue == values[0] && merged.lastValue == values[999])
            #expect(closeEnough(merged.mean, whole.mean) && closeEnough(merged.m2, whole.m2) && closeEnough(merged.sum, whole.sum))
        }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
        #expect(closeEnough(whole.standardDeviation!, variance.squareRoot()))
    }
}
