import KappaCore
import Testing
@testable import KappaStream

/// The anomaly engine's per-series state keeps each count once; the snapshot still writes every count, so a
/// snapshot whose counts disagree with one another must be refused, and a sound one must come back bit for bit.
@Suite struct StateLayoutTests {
    /// A million series' state is kept at once: the inline budget per series.
    @Test func seriesStateFitsItsBudget() {
        #expect(MemoryLayout<SeriesState>.stride <= 160)
    }

    @Test func seriesStateRoundTripsAndRefusesDisagreeingCounts() throws {
        var engine = AnomalyEngine()
        for reading in SyntheticFleet(devices: 3, seed: 5, hours: 1).readings { _ = engine.process(reading) }
        #expect(engine.series.count > 0)
        for state in engine.series {
            var writer = SnapshotWriter()
            state.encode(into: &writer)
            var reader = SnapshotReader(writer.bytes)
            let restored = try SeriesState(from: &reader, settingsIndex: state.settingsIndex)
            var again = SnapshotWriter()
            restored.encode(into: &again)
            #expect(again.bytes == writer.bytes)

            // The baseline's reading count follows the device index (4 bytes) and four doubles.
            var wrongCount = writer.bytes
            wrongCount[4 + 32] &+= 1
            var wrongReader = SnapshotReader(wrongCount)
            #expect(throws: AnomalySnapshotError.self) { try SeriesState(from: &wrongReader, settingsIndex: state.settingsIndex) }
            // The flatline's run length follows the baseline (5 × 8), the change point (4 × 8) and the run's start.
            var wrongRun = writer.bytes
            wrongRun[4 + 40 + 32 + 8] &+= 1
            var wrongRunReader = SnapshotReader(wrongRun)
            #expect(throws: AnomalySnapshotError.self) { try SeriesState(from: &wrongRunReader, settingsIndex: state.settingsIndex) }
            // The cadence's interval count follows the flatline (7 × 8) and three of the cadence's fields.
            var wrongIntervals = writer.bytes
            wrongIntervals[4 + 40 + 32 + 56 + 24] &+= 1
            var wrongIntervalsReader = SnapshotReader(wrongIntervals)
            #expect(throws: AnomalySnapshotError.self) { try SeriesState(from: &wrongIntervalsReader, settingsIndex: state.settingsIndex) }
        }
    }

    @Test func seriesFlagsAgreeWithASet() {
        var flags = SeriesFlags()
        var model = Set<Int>()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let index = Int.random(in: 0..<700, using: &generator)
            flags.grow(to: index + 1)
            let value = Bool.random(using: &generator)
            flags[index] = value
            if value { model.insert(index) } else { model.remove(index) }
        }
        #expect(flags.setIndices == model.sorted())
        #expect((0..<flags.count).allSatisfy { flags[$0] == model.contains($0) })
        flags.clearAll()
        #expect(flags.setIndices.isEmpty)
    }
}
