#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import KappaCore
import Synchronization

/// Threads of their own for the processors, at a lowered CPU priority (``ProcessorConfiguration/threadNiceness``),
/// used as a task executor preference by every ``ProcessorRunner``.
///
/// Processors used to lower the nice value of whichever cooperative-pool thread they ran on; a thread's nice
/// value cannot be raised again, so the pool (2 threads here) ended up running HTTP, the bridge's async parts
/// and everything else at the processors' priority. Here only these threads are lowered, once, when they start.
/// Their jobs are the processors' computation; blocking libpq calls still go to each connection's own queue.
///
/// One executor per nice value lives as long as the process (``shared(niceness:)``), so runners started and
/// stopped many times (replays, tests) reuse the same few threads.
final class ProcessorExecutor: TaskExecutor, Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
    }

    private let queue = Mutex(Queue())
    /// One signal per job enqueued; a worker waits on it (a dedicated thread, so waiting blocks no pool thread).
    private let available = DispatchSemaphore(value: 0)
    let niceness: Int32

    private init(niceness: Int32, threads: Int) {
        self.niceness = niceness
        for _ in 0..<threads {
            Self.startThread { [self] in self.work() }
        }
    }

    private static let executors = Mutex<[Int32: ProcessorExecutor]>([:])

    /// The executor whose threads run at `niceness` (0 leaves their priority alone), one thread per core.
    static func shared(niceness: Int32) -> ProcessorExecutor {
        executors.withLock { executors in
            if let existing = executors[niceness] { return existing }
            let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            let executor = ProcessorExecutor(niceness: niceness, threads: max(1, cores))
            executors[niceness] = executor
            return executor
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        available.signal()
    }

    private func work() {
        // A thread inherits its creator's name (a pool or dispatch thread's); its own makes the processors' CPU
        // time visible per thread in /proc and `top -H`.
        Self.nameCurrentThread("kappa-processor")
        ThreadNiceness.lowerCurrentThread(to: niceness)
        while true {
            available.wait()
            let job = queue.withLock { queue -> UnownedJob in
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head == queue.jobs.count {
                    queue.jobs.removeAll(keepingCapacity: true)
                    queue.head = 0
                } else if queue.head >= 1024 && queue.head * 2 >= queue.jobs.count {
                    queue.jobs.removeFirst(queue.head)
                    queue.head = 0
                }
                return job
            }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// pthread_setname_np is not visible from Swift's Glibc module; /proc/thread-self/comm is the same name.
    private static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        #endif
    }

    /// A detached thread running `body` (which never returns here).
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        final class Context: Sendable {
            let body: @Sendable () -> Void
            init(body: @escaping @Sendable () -> Void) {
                self.body = body
            }
        }
        let context = Unmanaged.passRetained(Context(body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            context.body()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
