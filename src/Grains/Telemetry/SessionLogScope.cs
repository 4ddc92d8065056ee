using System.Collections;

namespace VoiceActors.Telemetry;

/// <summary>
/// The logging scope of one session: <c>session_id</c>, <c>tenant_id</c> and, once known, <c>candidate_id</c>.
/// Values are read when a log line is written, so lines logged during <c>Create</c> after the state is filled carry
/// the tenant too. One instance per activation; only identifiers, never tokens or personal data beyond the ids.
/// </summary>
public sealed class SessionLogScope(string sessionId, Func<(string TenantId, string CandidateId)> identity)
    : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string SessionIdKey = "session_id";
    public const string TenantIdKey = "tenant_id";
    public const string CandidateIdKey = "candidate_id";

    public int Count => identity().CandidateId.Length > 0 ? 3 : 2;

    public KeyValuePair<string, object?> this[int index]
    {
        get
        {
            var (tenant, candidate) = identity();
            return index switch
            {
                0 => new(SessionIdKey, sessionId),
                1 => new(TenantIdKey, tenant),
                2 when candidate.Length > 0 => new(CandidateIdKey, candidate),
                _ => throw new ArgumentOutOfRangeException(nameof(index)),
            };
        }
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        var n = Count;
        for (var i = 0; i < n; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString()
    {
        var (tenant, candidate) = identity();
        return candidate.Length > 0
            ? $"session_id:{sessionId} tenant_id:{tenant} candidate_id:{candidate}"
            : $"session_id:{sessionId} tenant_id:{tenant}";
    }
}
