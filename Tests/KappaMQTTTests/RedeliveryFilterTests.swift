import KappaCore
@testable import KappaMQTT
import Testing

@Suite("Redelivery filter: which resent messages the log already holds")
struct RedeliveryFilterTests {
    func delivery(_ sequence: UInt64, _ packetID: UInt16, _ fingerprint: UInt32 = 7) -> MessageDelivery {
        MessageDelivery(sequence: sequence, packetID: packetID, fingerprint: fingerprint)
    }

    @Test func aResentMessageIsHeldOnlyInItsPartitionWithItsFingerprint() {
        var filter = RedeliveryFilter()
        // mayBeRedelivery mutates (it can end matching), which #expect cannot call itself.
        var isCandidate: Bool
        filter.stored(delivery(1, 100, 7), partition: 2)
        filter.connectionStarted(sessionPresent: true)
        isCandidate = filter.mayBeRedelivery(packetID: 100)
        #expect(isCandidate)
        #expect(filter.holds(packetID: 100, fingerprint: 7, partition: 2))
        #expect(!filter.holds(packetID: 100, fingerprint: 8, partition: 2), "another message under a reused identifier")
        #expect(!filter.holds(packetID: 100, fingerprint: 7, partition: 3), "the partition the crash left unwritten")
        #expect(!filter.holds(packetID: 99, fingerprint: 7, partition: 2))
    }

    @Test func aNewSessionResendsNothingAndQoSZeroIsNeverResent() {
        var filter = RedeliveryFilter()
        // mayBeRedelivery mutates (it can end matching), which #expect cannot call itself.
        var isCandidate: Bool
        filter.stored(delivery(1, 100), partition: 0)
        filter.connectionStarted(sessionPresent: false)
        isCandidate = filter.mayBeRedelivery(packetID: 100)
        #expect(!isCandidate)
        filter.connectionStarted(sessionPresent: true)
        isCandidate = filter.mayBeRedelivery(packetID: 0)
        #expect(!isCandidate)
    }

    @Test func identifiersBehindTheAnchorAcrossTheWrapAreCandidates() {
        var filter = RedeliveryFilter()
        // mayBeRedelivery mutates (it can end matching), which #expect cannot call itself.
        var isCandidate: Bool
        filter.stored(delivery(1, 65_530), partition: 0)
        filter.stored(delivery(2, 3), partition: 0)  // the broker wrapped from 65 535 to 1
        filter.connectionStarted(sessionPresent: true)
        isCandidate = filter.mayBeRedelivery(packetID: 65_530)
        #expect(isCandidate)
        #expect(filter.holds(packetID: 65_530, fingerprint: 7, partition: 0))
        isCandidate = filter.mayBeRedelivery(packetID: 3)
        #expect(isCandidate)
    }

    @Test func matchingEndsOnceNewIdentifiersRunPastTheHorizon() {
        var filter = RedeliveryFilter()
        // mayBeRedelivery mutates (it can end matching), which #expect cannot call itself.
        var isCandidate: Bool
        filter.stored(delivery(1, 1_000), partition: 0)
        filter.connectionStarted(sessionPresent: true)
        isCandidate = filter.mayBeRedelivery(packetID: 1_001)
        #expect(!isCandidate, "a new message, just ahead")
        isCandidate = filter.mayBeRedelivery(packetID: 1_000)
        #expect(isCandidate, "still matching")
        isCandidate = filter.mayBeRedelivery(packetID: UInt16(1_000 + RedeliveryFilter.matchingHorizon + 1))
        #expect(!isCandidate)
        isCandidate = filter.mayBeRedelivery(packetID: 1_000)
        #expect(!isCandidate, "identifiers further ahead would wrap into the window: matching ended")
        filter.connectionStarted(sessionPresent: true)
        isCandidate = filter.mayBeRedelivery(packetID: 1_000)
        #expect(isCandidate, "the next connection matches again")
    }

    @Test func deliveriesOlderThanTheWindowAreNotHeld() {
        var filter = RedeliveryFilter()
        filter.stored(delivery(1, 10), partition: 0)
        filter.stored(delivery(UInt64(RedeliveryFilter.window) + 1, 11), partition: 0)
        filter.connectionStarted(sessionPresent: true)
        #expect(!filter.holds(packetID: 10, fingerprint: 7, partition: 0))
        #expect(filter.holds(packetID: 11, fingerprint: 7, partition: 0))
    }

    @Test func theNewestDeliveryOfAnIdentifierReplacesTheOlder() {
        var filter = RedeliveryFilter()
        filter.stored(delivery(1, 10, 1), partition: 0)
        filter.stored(delivery(2, 10, 2), partition: 0)
        #expect(!filter.holds(packetID: 10, fingerprint: 1, partition: 0))
        #expect(filter.holds(packetID: 10, fingerprint: 2, partition: 0))
        #expect(filter.nextSequence == 3)
    }
}
