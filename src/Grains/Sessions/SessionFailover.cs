using Microsoft.Extensions.Logging;

namespace VoiceActors.Sessions;

/// <summary>
/// Wake-on-death: as soon as membership declares a silo dead, this survivor takes that silo's live sessions from the
/// <see cref="ILiveSessionRegistry"/> in batches and calls each once, which activates it here or on another survivor (placement
/// decides) and resumes it from storage. Every survivor takes from the same set, and a take removes what it returns, so each
/// session is woken by exactly one survivor and the work is shared. Recovery is failure detection plus one activation, not the next
/// watchdog tick; the watchdog stays as the safety net (a waker that dies mid-batch, an id recorded just before its silo died).
/// </summary>
public sealed partial class SessionFailover(
    IClusterMembershipService membership,
    ILiveSessionRegistry registry,
    IGrainFactory grains,
    ILocalSiloDetails local,
    TimeProvider clock,
    ILogger<SessionFailover> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private const int BatchSize = 64; // ids per take: small enough that survivors share a big silo's sessions
    private const int Parallelism = 32; // wakes in flight per survivor: each is a storage read and write, not a herd
    private static readonly TimeSpan WakeBudget = TimeSpan.FromSeconds(30); // then the watchdog's tick takes over
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    private readonly HashSet<SiloAddress> _handled = [];
    private readonly List<Task> _wakes = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task _watch = Task.CompletedTask;

    /// <summary>Watches from Active on; on stop, waits for the watch and any wake in progress (bounded by the stop token).</summary>
    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(nameof(SessionFailover), ServiceLifecycleStage.Active,
        _ =>
        {
            _watch = Task.Run(() => WatchAsync(_stopping.Token), CancellationToken.None);
            return Task.CompletedTask;
        },
        async ct =>
        {
            await _stopping.CancelAsync();
            Task[] pending;
            lock (_wakes) pending = [_watch, .. _wakes];
            await Task.WhenAll(pending).WaitAsync(ct).ContinueWith(static _ => { }, TaskScheduler.Default); // stopping: outcomes are logged where they happen
        });

    /// <summary>Each membership snapshot (the first one included: a silo that died while no one watched) is checked for new dead silos.</summary>
    private async Task WatchAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(ct))
            {
                foreach (var (address, member) in snapshot.Members)
                {
                    if (member.Status != SiloStatus.Dead || address.Equals(local.SiloAddress) || !_handled.Add(address)) continue;
                    var wake = Task.Run(() => WakeSessionsOfAsync(address, ct), CancellationToken.None);
                    lock (_wakes)
                    {
                        _wakes.RemoveAll(t => t.IsCompleted);
                        _wakes.Add(wake);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>Takes and wakes the dead silo's sessions until its set is empty; returns how many this survivor woke.</summary>
    public async Task<int> WakeSessionsOfAsync(SiloAddress dead, CancellationToken ct)
    {
        var started = clock.GetTimestamp();
        int woken = 0, failed = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var ids = await registry.TakeAsync(dead, BatchSize, ct);
                if (ids.Length == 0) break;
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, async (id, token) =>
                {
                    if (await WakeAsync(id, token)) Interlocked.Increment(ref woken);
                    else Interlocked.Increment(ref failed);
                });
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (Exception e)
        {
            LogTakeFailed(e, dead.ToParsableString()); // Redis unreachable: the watchdog's tick resumes them
        }
        if (woken + failed > 0) LogWoken(woken, failed, dead.ToParsableString(), clock.GetElapsedTime(started).TotalMilliseconds);
        return woken;
    }

    /// <summary>One call activates the session; the directory may hold it back briefly (the dead silo's lease), so retry with backoff.</summary>
    private async Task<bool> WakeAsync(string sessionId, CancellationToken ct)
    {
        var started = clock.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await grains.GetGrain<ISessionOperationsGrain>(sessionId).Wake();
                return true;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException && !ct.IsCancellationRequested)
            {
                // The placement picked a silo that is dead but not declared yet, or the directory's view is still changing.
                if (clock.GetElapsedTime(started) + backoff > WakeBudget)
                {
                    LogWakeFailed(e, sessionId);
                    return false;
                }
                await Task.Delay(backoff, clock, ct);
                backoff = backoff * 2 < MaxBackoff ? backoff * 2 : MaxBackoff;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Woke {Woken} live sessions of dead silo {Silo} in {ElapsedMs:0} ms ({Failed} left to the watchdog)")]
    private partial void LogWoken(int woken, int failed, string silo, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take the live sessions of dead silo {Silo}; their watchdog resumes them")]
    private partial void LogTakeFailed(Exception e, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not wake session {SessionId}; its watchdog resumes it")]
    private partial void LogWakeFailed(Exception e, string sessionId);
}
