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

    /// Two gateways on one log: B's deliveries are newer in the log and use identifiers behind A's.
    @Test func onlyTheFiltersOwnSessionAnchorsAndMatches() {
        let sessionA: UInt32 = 0xA, sessionB: UInt32 = 0xB
        var filter = RedeliveryFilter(session: sessionA)
        // mayBeRedelivery mutates (it can end matching), which #expect cannot call itself.
        var isCandidate: Bool
        for step in 0..<100 {
            filter.stored(MessageDelivery(sequence: UInt64(step + 1), packetID: UInt16(501 + step), fingerprint: 7, session: sessionA), partition: 0)
            filter.stored(MessageDelivery(sequence: UInt64(step + 1), packetID: UInt16(101 + step), fingerprint: 9, session: sessionB), partition: 0)
        }
        filter.stored(MessageDelivery(sequence: 200, packetID: 150, fingerprint: 8, session: sessionB), partition: 0)
        #expect(filter.newest?.packetID == 600 && filter.nextSequence == 101, "A's own newest delivery and sequence")
        filter.connectionStarted(sessionPresent: true)
        // The broker resends A's unacknowledged 551…600: behind A's anchor, not ahead of B's 200.
        isCandidate = filter.mayBeRedelivery(packetID: 551)
        #expect(isCandidate)
        #expect(filter.holds(packetID: 551, fingerprint: 7, partition: 0))
        // A message under an identifier only B stored, with B's topic and payload, is not A's to drop.
        isCandidate = filter.mayBeRedelivery(packetID: 150)
        #expect(isCandidate)
        #expect(!filter.holds(packetID: 150, fingerprint: 8, partition: 0))
    }

    @Test func deliveriesOfUnknownSessionAreOwnOnlyWhenSaidSo() {
        var single = RedeliveryFilter(session: 0xA)
        single.stored(MessageDelivery(sequence: 5, packetID: 10, fingerprint: 7), partition: 0)
        #expect(single.holds(packetID: 10, fingerprint: 7, partition: 0) && single.nextSequence == 6)
        var shared = RedeliveryFilter(session: 0xA, unknownSessionIsOwn: false)
        shared.stored(MessageDelivery(sequence: 5, packetID: 10, fingerprint: 7), partition: 0)
        #expect(!shared.holds(packetID: 10, fingerprint: 7, partition: 0) && shared.nextSequence == 1)
    }
}
