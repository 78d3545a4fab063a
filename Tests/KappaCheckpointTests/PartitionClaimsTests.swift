import KappaStream
import Testing

/// How a runner sharing the log decides which partitions to claim and hand over: no I/O, the claims as given.
@Suite("Partition claims")
struct PartitionClaimsTests {
    @Test func sharesAddUpToThePartitionsWhateverTheMembers() {
        for members in 1...5 {
            for partitions in [1, 4, 7, 16] {
                let ids = Set((0..<members).map { Int64(100 + $0 * 7) })
                let shares = ids.map { PartitionClaims(me: $0, members: ids, holders: [:]).fairShare(of: partitions) }
                #expect(shares.reduce(0, +) == partitions, "\(members) members, \(partitions) partitions: \(shares)")
                #expect(shares.max()! - shares.min()! <= 1)
            }
        }
    }

    @Test func aLoneMemberClaimsEveryFreePartition() {
        let claims = PartitionClaims(me: 5, members: [5], holders: [:])
        #expect(claims.plan(owned: [], partitionCount: 4) == PartitionPlan(claim: [0, 1, 2, 3], release: [], lost: []))
    }

    @Test func aNewMemberMakesTheOwnerOfEverythingHandOverTheHighest() {
        let holders = Dictionary(uniqueKeysWithValues: (0..<4).map { ($0, Int64(5)) })
        let owner = PartitionClaims(me: 5, members: [5, 9], holders: holders)
        #expect(owner.plan(owned: [0, 1, 2, 3], partitionCount: 4) == PartitionPlan(claim: [], release: [2, 3], lost: []))
        // The newcomer finds nothing free until then, and claims what was handed over afterwards.
        let newcomer = PartitionClaims(me: 9, members: [5, 9], holders: holders)
        #expect(newcomer.plan(owned: [], partitionCount: 4) == PartitionPlan(claim: [], release: [], lost: []))
        let after = PartitionClaims(me: 9, members: [5, 9], holders: [0: 5, 1: 5])
        #expect(after.plan(owned: [], partitionCount: 4) == PartitionPlan(claim: [2, 3], release: [], lost: []))
    }

    @Test func theDeadOwnersPartitionsAreClaimedByTheSurvivors() {
        // Member 7 died: its locks and its membership went with its connection.
        let survivor = PartitionClaims(me: 5, members: [5, 9], holders: [0: 5, 3: 9])
        #expect(survivor.plan(owned: [0], partitionCount: 4) == PartitionPlan(claim: [1], release: [], lost: []))
    }

    @Test func aPartitionHeldByAnotherSessionIsLost() {
        let claims = PartitionClaims(me: 5, members: [5, 9], holders: [0: 5, 1: 9])
        #expect(claims.plan(owned: [0, 1], partitionCount: 2).lost == [1])
    }
}
