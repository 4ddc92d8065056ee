using System.Globalization;
using System.Text;
using StackExchange.Redis;
using VoiceActors.LoadTest.LiveKit;
using VoiceActors.TestSupport;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// What a long interview costs (issue #13), read from the servers themselves: Redis' own input counter (<c>INFO stats</c>
/// <c>total_net_input_bytes</c>), the session-log list lengths (the committed turns), the largest session keys (SCAN +
/// MEMORY USAGE, bounded), each silo process's resident memory (<c>/proc/&lt;pid&gt;/status</c>) and managed heap (its
/// <c>/metrics</c>). The probe's own commands also reach Redis' counter: it adds up their RESP size and takes it off.
/// </summary>
public sealed class LongRunProbe(IConnectionMultiplexer redis, string serviceId, Func<IReadOnlyList<SiloProcess>> silos)
{
    /// <summary>Keys looked at per key sample at most: SCAN pages of <see cref="ScanCount"/> never block Redis, and a sample stays bounded.</summary>
    public const int MaxKeysPerSample = 20_000;
    private const int ScanCount = 200;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    private readonly SemaphoreSlim _counter = new(1, 1); // the per-second and the 10 s sampler both read it: a stale reading must not look like a restart
    private long _lastRaw = -1, _beforeRestarts, _own;

    public string TurnsKey(string sessionId) => $"{serviceId}/session-log/{{{sessionId}}}/turns";

    /// <summary>Bytes Redis has received since the probe started, across restarts (the counter starts at 0 again), less the probe's own.</summary>
    public async Task<long?> InputBytesAsync()
    {
        await _counter.WaitAsync();
        try
        {
            var server = Server();
            var stats = await server.InfoAsync("stats");
            Interlocked.Add(ref _own, Resp("INFO", "stats"));
            long raw = -1;
            foreach (var group in stats)
                foreach (var (key, value) in group)
                    if (key == "total_net_input_bytes") raw = long.Parse(value, CultureInfo.InvariantCulture);
            if (raw < 0) return null;
            if (_lastRaw >= 0 && raw < _lastRaw) _beforeRestarts += _lastRaw; // a restarted server counts from 0 (what came between the last read and the kill is not seen)
            _lastRaw = raw;
            return _beforeRestarts + raw - Interlocked.Read(ref _own);
        }
        catch (Exception e) when (e is RedisException or RedisCommandException or TimeoutException or InvalidOperationException)
        {
            return null; // Redis restarting: this second has no reading
        }
        finally
        {
            _counter.Release();
        }
    }

    /// <summary>The turns the session logs hold (LLEN of each session's turns list, pipelined); null when Redis does not answer.</summary>
    public async Task<Dictionary<string, long>?> CommittedTurnsAsync(IReadOnlyCollection<string> sessionIds)
    {
        try
        {
            var db = redis.GetDatabase();
            var pending = new List<(string Id, Task<long> Length)>(sessionIds.Count);
            foreach (var id in sessionIds)
            {
                var key = TurnsKey(id);
                Interlocked.Add(ref _own, Resp("LLEN", key));
                pending.Add((id, db.ListLengthAsync(key)));
            }
            var result = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (id, length) in pending) result[id] = await length;
            return result;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>The largest session-state key and the largest session-log list, by MEMORY USAGE, over at most <see cref="MaxKeysPerSample"/> keys.</summary>
    public async Task<KeySizes?> LargestKeysAsync(CancellationToken ct)
    {
        try
        {
            var server = Server();
            var db = redis.GetDatabase();
            long largestState = 0, largestLog = 0;
            string? stateKey = null, logKey = null;
            var seen = 0;
            var batch = new List<(RedisKey Key, Task<RedisResult> Usage)>(ScanCount);
            await foreach (var key in server.KeysAsync(pattern: $"{serviceId}*", pageSize: ScanCount).WithCancellation(ct))
            {
                var name = key.ToString();
                if (!IsSessionKey(name)) continue;
                Interlocked.Add(ref _own, Resp("MEMORY", "USAGE", name));
                batch.Add((key, db.ExecuteAsync("MEMORY", "USAGE", key)));
                if (++seen % ScanCount == 0) Interlocked.Add(ref _own, Resp("SCAN", "0000000", "MATCH", serviceId + "*", "COUNT", "200"));
                if (seen >= MaxKeysPerSample) break;
            }
            foreach (var (key, usage) in batch)
            {
                var result = await usage;
                if (result.IsNull) continue; // expired or deleted between SCAN and MEMORY USAGE
                var bytes = (long)result;
                var name = key.ToString();
                if (name.Contains("/session-log/", StringComparison.Ordinal))
                {
                    if (bytes > largestLog) (largestLog, logKey) = (bytes, name);
                }
                else if (bytes > largestState) (largestState, stateKey) = (bytes, name);
            }
            return new KeySizes(largestState, stateKey, largestLog, logKey, seen);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>A session's state (grain storage of the session grain) or its log; membership, reminders and other grains are not.</summary>
    private static bool IsSessionKey(string key) =>
        key.Contains("/session-log/", StringComparison.Ordinal) || key.Contains("interviewsession", StringComparison.OrdinalIgnoreCase);

    /// <summary>VmRSS of each silo process still running, in MiB.</summary>
    public IReadOnlyList<double> SiloRssMb()
    {
        var result = new List<double>();
        foreach (var silo in silos())
        {
            if (silo.HasExited) continue;
            try
            {
                foreach (var line in File.ReadLines($"/proc/{silo.Process.Id}/status"))
                {
                    if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                    var kb = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    result.Add(Math.Round(kb / 1024.0, 1));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException) { } // exited meanwhile
        }
        return result;
    }

    /// <summary>The managed heap of each running silo after its last GC (<c>dotnet_gc_last_collection_heap_size_bytes</c>, all generations), in MiB.</summary>
    public async Task<IReadOnlyList<double>> SiloHeapMbAsync(CancellationToken ct)
    {
        var result = new List<double>();
        foreach (var silo in silos())
        {
            if (silo.HasExited) continue;
            try
            {
                var text = await Http.GetStringAsync(new Uri(silo.BaseAddress, "/metrics"), ct);
                var bytes = SiloMetricsScrape.Parse(text).Sum("dotnet_gc_last_collection_heap_size_bytes");
                if (bytes > 0) result.Add(Math.Round(bytes / 1048576.0, 1));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
        }
        return result;
    }

    /// <summary>The silos' provider rotations since each running process started (<c>voice_provider_rotations_total</c>); a killed silo's count goes with it.</summary>
    public async Task<double> RotationsCountedAsync(CancellationToken ct)
    {
        double sum = 0;
        foreach (var silo in silos())
        {
            if (silo.HasExited) continue;
            try { sum += SiloMetricsScrape.Parse(await Http.GetStringAsync(new Uri(silo.BaseAddress, "/metrics"), ct)).Sum("voice_provider_rotations_total"); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
        }
        return sum;
    }

    private IServer Server() => redis.GetServer(redis.GetEndPoints()[0]);

    /// <summary>The size of a command as RESP puts it on the wire: <c>*n\r\n</c>, then <c>$len\r\narg\r\n</c> per argument.</summary>
    private static long Resp(params string[] args)
    {
        long size = 3 + Digits(args.Length);
        foreach (var a in args)
        {
            var bytes = Encoding.UTF8.GetByteCount(a);
            size += 5 + Digits(bytes) + bytes;
        }
        return size;
    }

    private static int Digits(long n) => n.ToString(CultureInfo.InvariantCulture).Length;
}

/// <summary>The largest session-state key and session-log list of one sample (bytes, MEMORY USAGE), and how many session keys were looked at.</summary>
public sealed record KeySizes(long LargestStateBytes, string? LargestStateKey, long LargestLogBytes, string? LargestLogKey, int KeysSampled);
