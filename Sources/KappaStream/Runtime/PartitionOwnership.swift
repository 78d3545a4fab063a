/// Which partitions of its stream a processor's runner consumes.
///
/// With the embedded log one gateway holds the only copy of the log, so its runner consumes every partition.
/// When several gateways share one log (JetStream), the same processor runs in each and every partition must
/// be consumed by exactly one of them: each runner claims partitions through its ``CheckpointSession`` (in
/// PostgreSQL, session advisory locks on the connection that commits the checkpoints, so a claim dies with its
/// owner), takes free ones up to its fair share and hands over the ones above it. The offsets' conditional
/// update stays the fence in both cases: a runner that lost a partition without noticing cannot commit it.
public enum PartitionOwnership: Sendable, Equatable {
    case everyPartition
    /// Claims are checked, and free partitions taken, every `rebalanceInterval`.
    case shared(rebalanceInterval: Duration)
}

/// Who holds which partition of one processor version, as its store sees it right now.
public struct PartitionClaims: Sendable, Equatable {
    /// The session asking (PostgreSQL: its backend process id).
    public var me: Int64
    /// The sessions of every runner of this processor version taking part, this one included.
    public var members: Set<Int64>
    /// Partition → the session holding it; unclaimed partitions are absent.
    public var holders: [Int: Int64]

    public init(me: Int64, members: Set<Int64>, holders: [Int: Int64]) {
        self.me = me
        self.members = members
        self.holders = holders
    }

    /// How many of `partitionCount` partitions this member should hold: an equal share, the remainder going one
    /// each to the members with the lowest ids, so that the shares of all members add up to the partitions.
    public func fairShare(of partitionCount: Int) -> Int {
        let members = self.members.union([me]).sorted()
        let rank = members.firstIndex(of: me) ?? 0
        return partitionCount / members.count + (rank < partitionCount % members.count ? 1 : 0)
    }

    /// What to do about `owned`: the partitions to claim (free ones, while below the fair share), to release
    /// (the highest above it), and the owned ones another session holds now (lost: taken over).
    public func plan(owned: Set<Int>, partitionCount: Int) -> PartitionPlan {
        let lost = owned.filter { holders[$0] != me }.sorted()
        let share = fairShare(of: partitionCount)
        let kept = owned.subtracting(lost)
        if kept.count > share {
            return PartitionPlan(claim: [], release: Array(kept.sorted().suffix(kept.count - share)), lost: lost)
        }
        let free = (0..<partitionCount).filter { holders[$0] == nil && !owned.contains($0) }
        return PartitionPlan(claim: Array(free.prefix(share - kept.count)), release: [], lost: lost)
    }
}

/// The changes ``PartitionClaims/plan(owned:partitionCount:)`` decided.
public struct PartitionPlan: Sendable, Equatable {
    public var claim: [Int]
    public var release: [Int]
    public var lost: [Int]

    public init(claim: [Int], release: [Int], lost: [Int]) {
        self.claim = claim
        self.release = release
        self.lost = lost
    }
}
