@testable import KappaStream
import Testing

@Suite("Checkpoint state machine")
struct CheckpointStateMachineTests {
    private static let start = ContinuousClock.now

    private static func machine(
        offsets: [Int64] = [0, 0], maxBatchRecords: Int = 100, interval: Duration = .seconds(1),
        deferral: IntakeDeferral? = IntakeDeferral(lagRecords: 1_000, longest: .seconds(5)), coalescing: ReadCoalescing? = nil,
        quiet: Duration? = nil
    ) -> CheckpointStateMachine {
        CheckpointStateMachine(
            resumingFrom: offsets,
            limits: .init(
                maxBatchRecords: maxBatchRecords, checkpointInterval: interval, intakeDeferral: deferral, readCoalescing: coalescing,
                quietCheckpoint: quiet
            ),
            now: start
        )
    }

    private static func at(_ offset: Duration) -> ContinuousClock.Instant { start.advanced(by: offset) }

    private static func begin(_ machine: inout CheckpointStateMachine, at time: Duration, cancelled: Bool = false,
                              backlogged: Bool = false, lag: Int64 = 0) -> CheckpointStateMachine.IterationStart {
        machine.iterationStarts(now: at(time), isCancelled: cancelled, intakeBacklogged: backlogged, lag: { lag })
    }

    @Test func aFullBatchIsCheckpointedAtOnce() {
        var machine = Self.machine(maxBatchRecords: 100)
        #expect(Self.begin(&machine, at: .zero) == .read)
        #expect(machine.batchRoom == 100)
        machine.partitionRead(0, records: 60, nextOffset: 60)
        #expect(machine.batchRoom == 40)
        machine.partitionRead(1, records: 40, nextOffset: 40)
        #expect(machine.batchRoom == 0)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(1))) == .checkpoint(from: [0, 0], to: [60, 40]))
        machine.checkpointCommitted(now: Self.at(.milliseconds(2)))
        #expect(machine.committed == [60, 40])
        #expect(machine.pending == 0)
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(2))) == .readOn)
    }

    @Test func aSmallBatchWaitsForTheIntervalSinceItsFirstRecord() {
        var machine = Self.machine(interval: .seconds(1))
        _ = Self.begin(&machine, at: .seconds(3))
        machine.partitionRead(0, records: 5, nextOffset: 5)
        #expect(machine.readingEnded(now: Self.at(.seconds(3))) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.seconds(3))) == .readOn)

        _ = Self.begin(&machine, at: .milliseconds(3_400))
        machine.partitionRead(0, records: 0, nextOffset: 5)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(3_400))) == .report)
        // Caught up with records pending: wait no longer than until they are due.
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(3_400))) == .waitForRecords(timeout: .milliseconds(600)))

        _ = Self.begin(&machine, at: .seconds(4))
        machine.partitionRead(1, records: 2, nextOffset: 2)
        #expect(machine.readingEnded(now: Self.at(.seconds(4))) == .checkpoint(from: [0, 0], to: [5, 2]))
    }

    @Test func aSmallReadPausesSoThatRecordsGather() {
        var machine = Self.machine(maxBatchRecords: 1_000, coalescing: ReadCoalescing(belowRecords: 50, pause: .milliseconds(25)))
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 3, nextOffset: 3)
        machine.partitionRead(1, records: 4, nextOffset: 4)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.zero)) == .pause(.milliseconds(25)))

        // Enough gathered meanwhile: read on at once, as when catching up.
        _ = Self.begin(&machine, at: .milliseconds(25))
        machine.partitionRead(0, records: 30, nextOffset: 33)
        machine.partitionRead(1, records: 20, nextOffset: 24)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(25))) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(25))) == .readOn)
    }

    @Test func aPauseNeverPassesThePendingRecordsCheckpoint() {
        var machine = Self.machine(maxBatchRecords: 1_000, interval: .seconds(1), coalescing: ReadCoalescing(belowRecords: 50, pause: .milliseconds(25)))
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 2, nextOffset: 2)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        _ = Self.begin(&machine, at: .milliseconds(990))
        machine.partitionRead(0, records: 1, nextOffset: 3)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(990))) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(990))) == .pause(.milliseconds(10)))
        // Due now: checkpointed, and the pause after it is a whole one again.
        _ = Self.begin(&machine, at: .seconds(1))
        machine.partitionRead(0, records: 1, nextOffset: 4)
        #expect(machine.readingEnded(now: Self.at(.seconds(1))) == .checkpoint(from: [0, 0], to: [4, 0]))
        machine.checkpointCommitted(now: Self.at(.seconds(1)))
        #expect(machine.iterationEnds(now: Self.at(.seconds(1))) == .pause(.milliseconds(25)))
    }

    @Test func aFullBatchReadsOnHoweverSmall() {
        // Batches smaller than the coalescing threshold: catching up must not pause after every checkpoint.
        var machine = Self.machine(maxBatchRecords: 100, coalescing: ReadCoalescing(belowRecords: 1_000, pause: .milliseconds(25)))
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 100, nextOffset: 100)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .checkpoint(from: [0, 0], to: [100, 0]))
        machine.checkpointCommitted(now: Self.at(.milliseconds(1)))
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(1))) == .readOn)
    }

    @Test func recordsPendingWhenTheLogGoesQuietAreCheckpointedBeforeTheInterval() {
        var machine = Self.machine(
            maxBatchRecords: 1_000, interval: .seconds(1), coalescing: ReadCoalescing(belowRecords: 50, pause: .milliseconds(25)),
            quiet: .milliseconds(100)
        )
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 5, nextOffset: 5)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.zero)) == .pause(.milliseconds(25)))

        // The burst is over: nothing more to read. Wait only until the log has been quiet long enough.
        _ = Self.begin(&machine, at: .milliseconds(25))
        machine.partitionRead(0, records: 0, nextOffset: 5)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(25))) == .report)
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(25))) == .waitForRecords(timeout: .milliseconds(75)))

        _ = Self.begin(&machine, at: .milliseconds(100))
        machine.partitionRead(0, records: 0, nextOffset: 5)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(100))) == .checkpoint(from: [0, 0], to: [5, 0]))
        machine.checkpointCommitted(now: Self.at(.milliseconds(101)))
        // Nothing pending: quiet is no reason to wake before records come.
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(101))) == .waitForRecords(timeout: .seconds(1)))
    }

    @Test func aFlowThatNeverGoesQuietKeepsTheInterval() {
        var machine = Self.machine(
            maxBatchRecords: 1_000, interval: .seconds(1), coalescing: ReadCoalescing(belowRecords: 50, pause: .milliseconds(25)),
            quiet: .milliseconds(100)
        )
        var offset: Int64 = 0
        // A record every 50 ms, each read after a quiet 25 ms pause: the log is never quiet for 100 ms.
        for step in 0..<20 {
            let time = Duration.milliseconds(50 * step)
            _ = Self.begin(&machine, at: time)
            offset += 1
            machine.partitionRead(0, records: 1, nextOffset: offset)
            #expect(machine.readingEnded(now: Self.at(time)) == .keepPending)
            _ = Self.begin(&machine, at: time + .milliseconds(25))
            machine.partitionRead(0, records: 0, nextOffset: offset)
            #expect(machine.readingEnded(now: Self.at(time + .milliseconds(25))) == .report)
        }
        _ = Self.begin(&machine, at: .seconds(1))
        machine.partitionRead(0, records: 1, nextOffset: offset + 1)
        #expect(machine.readingEnded(now: Self.at(.seconds(1))) == .checkpoint(from: [0, 0], to: [offset + 1, 0]))
    }

    @Test func withoutCoalescingASmallReadReadsOn() {
        var machine = Self.machine(maxBatchRecords: 1_000)
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 1, nextOffset: 1)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        #expect(machine.iterationEnds(now: Self.at(.zero)) == .readOn)
    }

    @Test func caughtUpWithNothingPendingWaitsASecond() {
        var machine = Self.machine(offsets: [7, 9])
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 0, nextOffset: 7)
        machine.partitionRead(1, records: 0, nextOffset: 9)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .report)
        #expect(machine.iterationEnds(now: Self.at(.zero)) == .waitForRecords(timeout: .seconds(1)))
    }

    @Test func anOverdueCheckpointStillWaitsAtLeastAMillisecond() {
        var machine = Self.machine(interval: .seconds(1))
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 1, nextOffset: 1)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        _ = Self.begin(&machine, at: .seconds(5))
        #expect(machine.readingEnded(now: Self.at(.seconds(5))) == .checkpoint(from: [0, 0], to: [1, 0]))
        // Were the checkpoint not committed, its due time is past: the wait is clamped, never negative.
        #expect(machine.iterationEnds(now: Self.at(.seconds(5))) == .waitForRecords(timeout: .milliseconds(1)))
    }

    @Test func shutdownTakesALastCheckpointOfWhatIsPendingThenStops() {
        var machine = Self.machine()
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 3, nextOffset: 3)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .keepPending)
        #expect(Self.begin(&machine, at: .milliseconds(10), cancelled: true) == .finish)
        #expect(machine.batchRoom == 0)
        #expect(machine.readingEnded(now: Self.at(.milliseconds(10))) == .checkpoint(from: [0, 0], to: [3, 0]))
        machine.checkpointCommitted(now: Self.at(.milliseconds(11)))
        #expect(machine.iterationEnds(now: Self.at(.milliseconds(11))) == .stop)
    }

    @Test func shutdownWithNothingPendingStopsWithoutACheckpoint() {
        var machine = Self.machine(offsets: [4, 4])
        #expect(Self.begin(&machine, at: .zero, cancelled: true) == .finish)
        #expect(machine.readingEnded(now: Self.at(.zero)) == .report)
        #expect(machine.iterationEnds(now: Self.at(.zero)) == .stop)
    }

    @Test func skippingLostOffsetsAloneIsNoCheckpointUntilShutdown() {
        var machine = Self.machine(offsets: [0, 0])
        _ = Self.begin(&machine, at: .zero)
        machine.partitionRead(0, records: 0, nextOffset: 50)
        #expect(machine.offsets == [50, 0])
        #expect(machine.readingEnded(now: Self.at(.seconds(10))) == .report)
        _ = Self.begin(&machine, at: .seconds(11), cancelled: true)
        #expect(machine.readingEnded(now: Self.at(.seconds(11))) == .checkpoint(from: [0, 0], to: [50, 0]))
    }

    @Test func givesWayToABackloggedIntakeOnlyWhileFarBehindAndRecentlyCheckpointed() {
        var machine = Self.machine(deferral: IntakeDeferral(lagRecords: 1_000, longest: .seconds(5)))
        #expect(Self.begin(&machine, at: .seconds(1), backlogged: true, lag: 5_000) == .deferToIntake)
        #expect(Self.begin(&machine, at: .seconds(1), backlogged: true, lag: 1_000) == .read)
        #expect(Self.begin(&machine, at: .seconds(1), backlogged: false, lag: 5_000) == .read)
        // Five seconds after the last checkpoint it reads anyway, so an endless backlog still sees progress.
        #expect(Self.begin(&machine, at: .seconds(5), backlogged: true, lag: 5_000) == .read)
        machine.partitionRead(0, records: 100, nextOffset: 100)
        #expect(machine.readingEnded(now: Self.at(.seconds(5))) == .checkpoint(from: [0, 0], to: [100, 0]))
        machine.checkpointCommitted(now: Self.at(.seconds(5)))
        #expect(Self.begin(&machine, at: .seconds(6), backlogged: true, lag: 5_000) == .deferToIntake)
    }

    @Test func theLagIsAskedOnlyWhileIntakeIsBacklogged() {
        var machine = Self.machine()
        var asked = 0
        _ = machine.iterationStarts(now: Self.at(.zero), isCancelled: false, intakeBacklogged: false, lag: { asked += 1; return 0 })
        #expect(asked == 0)
        _ = machine.iterationStarts(now: Self.at(.zero), isCancelled: false, intakeBacklogged: true, lag: { asked += 1; return 0 })
        #expect(asked == 1)
    }

    @Test func withoutADeferralSettingItNeverGivesWay() {
        var machine = Self.machine(deferral: nil)
        #expect(Self.begin(&machine, at: .zero, backlogged: true, lag: .max) == .read)
    }

    @Test func shutdownWinsOverGivingWay() {
        var machine = Self.machine()
        #expect(Self.begin(&machine, at: .zero, cancelled: true, backlogged: true, lag: 5_000) == .finish)
    }
}
