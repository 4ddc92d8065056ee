using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using StackExchange.Redis;
using VoiceActors.Sessions;

namespace VoiceActors.Silo.Hosting;

/// <summary>
/// The session log on Redis: two lists per session, <c>{serviceId}/session-log/{id}/turns</c> and <c>…/timeline</c> (the id
/// is the hash tag, so a Redis Cluster keeps both in one slot), each entry one record in Orleans' binary format (the one the
/// state uses). Every write is one script call carrying only the new entries, which also renews both keys' expiry to the
/// sessions' <see cref="InterviewSessionOptions.StorageExpiry"/>: the rule of the state, so the log dies with it.
/// </summary>
public sealed class RedisSessionLog : ISessionLog, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    // KEYS: turns, timeline. ARGV: expiry (s), timeline cap, number of turns n, mode, then n turns, then the events.
    // Mode "import" adds only to an empty log; "replace" empties it first. Entries go in chunks: Lua's unpack has a stack limit.
    private const string Script =
        """
        local n = tonumber(ARGV[3])
        if ARGV[4] == 'import' and redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return redis.call('LLEN', KEYS[1]) end
        if ARGV[4] == 'replace' then redis.call('DEL', KEYS[1], KEYS[2]) end
        local function push(key, from, to)
          local len = 0
          for i = from, to, 1000 do len = redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, to))) end
          return len
        end
        local turns
        if n > 0 then turns = push(KEYS[1], 5, 4 + n) else turns = redis.call('LLEN', KEYS[1]) end
        if #ARGV > 4 + n then
          local len = push(KEYS[2], 5 + n, #ARGV)
          local cap = tonumber(ARGV[2])
          if len > cap then
            local first = redis.call('LINDEX', KEYS[2], 0)
            redis.call('LTRIM', KEYS[2], len - cap + 1, -1)
            redis.call('LPUSH', KEYS[2], first)
          end
        end
        redis.call('EXPIRE', KEYS[1], ARGV[1])
        redis.call('EXPIRE', KEYS[2], ARGV[1])
        return turns
        """;

    private const int Page = 512; // entries per read: a whole transcript is paged in, never one reply of unbounded size

    private readonly ConfigurationOptions _options;
    private readonly Serializer _serializer;
    private readonly string _prefix;
    private readonly RedisValue _expirySeconds;

    public RedisSessionLog(string connectionString, Serializer serializer, IOptions<ClusterOptions> cluster, IOptions<InterviewSessionOptions> sessions)
    {
        _options = ConfigurationOptions.Parse(connectionString);
        _options.AbortOnConnectFail = false; // commands wait in the backlog while Redis is (re)connecting, as the storage provider's do
        _serializer = serializer;
        _prefix = $"{cluster.Value.ServiceId}/session-log/";
        _expirySeconds = (long)Math.Ceiling(sessions.Value.StorageExpiry.TotalSeconds);
    }

    private ConnectionMultiplexer? _connection;

    private ConnectionMultiplexer Redis => _connection ?? throw new InvalidOperationException("the session log is used before the silo started");

    /// <summary>Connects as the silo starts, with the storage providers: never on a session's first call, which would block its scheduler thread.</summary>
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RedisSessionLog), ServiceLifecycleStage.ApplicationServices,
            async ct => _connection = await ConnectionMultiplexer.ConnectAsync(_options).WaitAsync(ct),
            async _ => { if (_connection is { } c) await c.CloseAsync(); });

    public RedisKey TurnsKey(string sessionId) => $"{_prefix}{{{sessionId}}}/turns";

    public RedisKey TimelineKey(string sessionId) => $"{_prefix}{{{sessionId}}}/timeline";

    public Task<int> AppendAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events) =>
        RunAsync(sessionId, "append", turns, events);

    public async Task<int> CountTurnsAsync(string sessionId) => (int)await Redis.GetDatabase().ListLengthAsync(TurnsKey(sessionId));

    public async Task<IReadOnlyList<Turn>> ReadTurnsAsync(string sessionId, int from, int count) =>
        await ReadAsync<Turn>(TurnsKey(sessionId), from, count);

    public async Task<IReadOnlyList<TimelineEvent>> ReadTimelineAsync(string sessionId) =>
        await ReadAsync<TimelineEvent>(TimelineKey(sessionId), 0, int.MaxValue);

    public async Task EraseAsync(string sessionId)
    {
        var timeline = await ReadTimelineAsync(sessionId);
        await RunAsync(sessionId, "replace", [], [.. timeline.Select(e => e with { Detail = null })]);
    }

    public Task ImportAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events) =>
        RunAsync(sessionId, "import", turns, events);

    private async Task<int> RunAsync(string sessionId, string mode, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events)
    {
        var args = new RedisValue[4 + turns.Count + events.Count];
        args[0] = _expirySeconds;
        args[1] = ISessionLog.MaxTimelineEvents;
        args[2] = turns.Count;
        args[3] = mode;
        for (var i = 0; i < turns.Count; i++) args[4 + i] = _serializer.SerializeToArray(turns[i]);
        for (var i = 0; i < events.Count; i++) args[4 + turns.Count + i] = _serializer.SerializeToArray(events[i]);
        var result = await Redis.GetDatabase().ScriptEvaluateAsync(Script, [TurnsKey(sessionId), TimelineKey(sessionId)], args);
        return (int)result;
    }

    private async Task<List<T>> ReadAsync<T>(RedisKey key, int from, int count) where T : class
    {
        var db = Redis.GetDatabase();
        var result = new List<T>();
        var end = count == int.MaxValue ? long.MaxValue : (long)from + count; // exclusive
        for (long start = from; start < end; start += Page)
        {
            var stop = Math.Min(start + Page, end) - 1;
            var values = await db.ListRangeAsync(key, start, stop);
            foreach (var value in values) result.Add(_serializer.Deserialize<T>((byte[])value!) ?? throw new InvalidDataException($"an empty entry in {key}"));
            if (values.Length < stop - start + 1) break; // the end of the list
        }
        return result;
    }

    public void Dispose() => _connection?.Dispose();
}
