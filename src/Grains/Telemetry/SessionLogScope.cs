using System.Collections;

namespace VoiceActors.Telemetry;

/// <summary>
/// The logging scope of one session: <c>session_id</c>, <c>tenant_id</c> and, once known, <c>candidate_id</c>.
/// The grain copies the ids in on its own thread (<see cref="Identify"/>); a line may be formatted on any thread
/// (a retry callback, the console logger's queue), so the scope never reads grain state itself.
/// One instance per activation; only identifiers, never tokens or personal data beyond the ids.
/// </summary>
public sealed class SessionLogScope(string sessionId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string SessionIdKey = "session_id";
    public const string TenantIdKey = "tenant_id";
    public const string CandidateIdKey = "candidate_id";

    private sealed record Ids(string TenantId, string CandidateId);

    private volatile Ids _ids = new("", "");

    public void Identify(string tenantId, string candidateId)
    {
        if (_ids.TenantId != tenantId || _ids.CandidateId != candidateId) _ids = new Ids(tenantId, candidateId);
    }

    public int Count => _ids.CandidateId.Length > 0 ? 3 : 2;

    public KeyValuePair<string, object?> this[int index]
    {
        get
        {
            var ids = _ids;
            return index switch
            {
                0 => new(SessionIdKey, sessionId),
                1 => new(TenantIdKey, ids.TenantId),
                2 when ids.CandidateId.Length > 0 => new(CandidateIdKey, ids.CandidateId),
                _ => throw new ArgumentOutOfRangeException(nameof(index)),
            };
        }
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        var ids = _ids;
        yield return new(SessionIdKey, sessionId);
        yield return new(TenantIdKey, ids.TenantId);
        if (ids.CandidateId.Length > 0) yield return new(CandidateIdKey, ids.CandidateId);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString()
    {
        var ids = _ids;
        return ids.CandidateId.Length > 0
            ? $"session_id:{sessionId} tenant_id:{ids.TenantId} candidate_id:{ids.CandidateId}"
            : $"session_id:{sessionId} tenant_id:{ids.TenantId}";
    }
}
