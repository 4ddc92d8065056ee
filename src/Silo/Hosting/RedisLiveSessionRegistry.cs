using Microsoft.Extensions.Options;
using Orleans.Configuration;
using StackExchange.Redis;
using VoiceActors.Sessions;

namespace VoiceActors.Silo.Hosting;

/// <summary>
/// The live-session registry on Redis: one set per silo (<c>{serviceId}/live-sessions/{silo}</c>) holding the ids of the live
/// sessions activated on it. Its cost is one SADD (with its EXPIRE) when a session starts counting on a silo and one SREM when it
/// stops, pipelined and fire-and-forget on the grain's turn; survivors of a dead silo SPOP its set, so each id is woken once.
/// </summary>
public sealed class RedisLiveSessionRegistry : ILiveSessionRegistry, IDisposable
{
    private readonly ConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly RedisKey _local;
    private readonly TimeSpan _expiry;

    public RedisLiveSessionRegistry(string connectionString, IOptions<ClusterOptions> cluster, ILocalSiloDetails silo, IOptions<InterviewSessionOptions> sessions)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false; // commands wait in the backlog while Redis is (re)connecting, as the storage provider's do
        _redis = ConnectionMultiplexer.Connect(options);
        _prefix = $"{cluster.Value.ServiceId}/live-sessions/";
        _local = KeyOf(silo.SiloAddress);
        _expiry = sessions.Value.StorageExpiry; // a set nobody woke (the whole cluster gone) lasts no longer than the sessions' state
    }

    public RedisKey KeyOf(SiloAddress silo) => _prefix + silo.ToParsableString();

    public void Added(string sessionId)
    {
        var db = _redis.GetDatabase();
        db.SetAdd(_local, sessionId, CommandFlags.FireAndForget);
        db.KeyExpire(_local, _expiry, CommandFlags.FireAndForget);
    }

    public void Removed(string sessionId) => _redis.GetDatabase().SetRemove(_local, sessionId, CommandFlags.FireAndForget);

    public async Task<string[]> TakeAsync(SiloAddress silo, int count, CancellationToken ct)
    {
        var values = await _redis.GetDatabase().SetPopAsync(KeyOf(silo), count).WaitAsync(ct);
        return [.. values.Select(v => v.ToString())];
    }

    public void Dispose() => _redis.Dispose();
}
