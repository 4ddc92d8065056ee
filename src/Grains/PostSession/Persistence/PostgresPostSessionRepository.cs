using VoiceActors.LiveKit;
using Npgsql;
using NpgsqlTypes;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession.Persistence;

/// <summary>
/// <see cref="IPostSessionRepository"/> on PostgreSQL. Every value travels as a parameter (never spliced into SQL); writes go to
/// the primary, reads to the replica when one is configured. Idempotency is the database's: primary keys on <c>session_id</c>
/// and <c>insert … on conflict do nothing</c>, so a re-delivered event can never add a second transcript or evaluation.
/// </summary>
public sealed class PostgresPostSessionRepository(PostgresConnections connections) : IPostSessionRepository
{
    private const string InsertInterview = """
        insert into interviews (session_id, tenant_id, candidate_id, job_id, outcome, end_reason, created_at, started_at, ended_at,
                                consent_recording, consent_transcription, consent_ai_evaluation, delete_at)
        values (@session_id, @tenant_id, @candidate_id, @job_id, @outcome, @end_reason, @created_at, @started_at, @ended_at,
                @consent_recording, @consent_transcription, @consent_ai_evaluation, @delete_at)
        """;

    public async Task RecordInterviewAsync(SessionCompleted completed, DateTimeOffset deleteAt, CancellationToken ct = default)
    {
        await using var command = connections.Primary.CreateCommand(InsertInterview +
            " on conflict (session_id) do update set delete_at = excluded.delete_at");
        AddInterview(command, completed, deleteAt);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> SaveTranscriptAsync(SessionCompleted completed, TranscriptView transcript, CancellationToken ct = default)
    {
        await using var connection = await connections.Primary.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await EnsureInterviewAsync(connection, tx, completed, ct);

        await using (var header = new NpgsqlCommand("""
            insert into transcripts (session_id, tenant_id, turn_count, stored_at, source) values (@session_id, @tenant_id, @turn_count, @stored_at, @source)
            on conflict (session_id) do nothing
            """, connection, tx))
        {
            header.Parameters.AddWithValue("session_id", Clean(completed.SessionId)!);
            header.Parameters.AddWithValue("tenant_id", Clean(completed.TenantId)!);
            header.Parameters.AddWithValue("turn_count", transcript.Turns.Count);
            header.Parameters.AddWithValue("stored_at", Utc(transcript.StoredAt));
            header.Parameters.AddWithValue("source", Clean(transcript.Source)!);
            if (await header.ExecuteNonQueryAsync(ct) == 0) return false; // already stored: the transaction rolls back on dispose
        }

        var n = transcript.Turns.Count;
        var seq = new int[n];
        var speaker = new string[n];
        var text = new string[n];
        var started = new DateTime[n];
        var ended = new DateTime[n];
        for (var i = 0; i < n; i++)
        {
            var t = transcript.Turns[i];
            (seq[i], speaker[i], text[i], started[i], ended[i]) = (t.Sequence, t.Speaker.ToString(), Clean(t.Text)!, Utc(t.StartedAt), Utc(t.EndedAt));
        }
        // One round trip for all turns: arrays as parameters, expanded by unnest.
        await using (var turns = new NpgsqlCommand("""
            insert into transcript_turns (session_id, seq, speaker, text, started_at, ended_at)
            select @session_id, t.seq, t.speaker, t.text, t.started_at, t.ended_at
            from unnest(@seq, @speaker, @text, @started_at, @ended_at) as t (seq, speaker, text, started_at, ended_at)
            """, connection, tx))
        {
            turns.Parameters.AddWithValue("session_id", Clean(completed.SessionId)!);
            turns.Parameters.AddWithValue("seq", seq);
            turns.Parameters.AddWithValue("speaker", speaker);
            turns.Parameters.AddWithValue("text", text);
            turns.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = started });
            turns.Parameters.Add(new NpgsqlParameter("ended_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = ended });
            await turns.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<bool> SaveEvaluationAsync(SessionCompleted completed, EvaluationView evaluation, CancellationToken ct = default)
    {
        await using var connection = await connections.Primary.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await EnsureInterviewAsync(connection, tx, completed, ct);

        await using (var header = new NpgsqlCommand("""
            insert into evaluations (session_id, tenant_id, status, evaluator, overall_score, scale_max, failure_reason, attempts, evaluated_at)
            values (@session_id, @tenant_id, @status, @evaluator, @overall_score, @scale_max, @failure_reason, @attempts, @evaluated_at)
            on conflict (session_id) do nothing
            """, connection, tx))
        {
            header.Parameters.AddWithValue("session_id", Clean(completed.SessionId)!);
            header.Parameters.AddWithValue("tenant_id", Clean(completed.TenantId)!);
            header.Parameters.AddWithValue("status", StatusName(evaluation.Status));
            header.Parameters.AddWithValue("evaluator", Clean(evaluation.Evaluator)!);
            header.Parameters.AddWithValue("overall_score", NpgsqlDbType.Double, (object?)evaluation.OverallScore ?? DBNull.Value);
            header.Parameters.AddWithValue("scale_max", evaluation.ScaleMax);
            header.Parameters.AddWithValue("failure_reason", NpgsqlDbType.Text, (object?)Clean(evaluation.FailureReason) ?? DBNull.Value);
            header.Parameters.AddWithValue("attempts", evaluation.Attempts);
            header.Parameters.AddWithValue("evaluated_at", Utc(evaluation.EvaluatedAt));
            if (await header.ExecuteNonQueryAsync(ct) == 0) return false;
        }

        for (var i = 0; i < evaluation.Criteria.Count; i++)
        {
            var c = evaluation.Criteria[i];
            await using var score = new NpgsqlCommand("""
                insert into evaluation_scores (session_id, position, criterion, weight, score, evidence, rationale)
                values (@session_id, @position, @criterion, @weight, @score, @evidence, @rationale)
                """, connection, tx);
            score.Parameters.AddWithValue("session_id", Clean(completed.SessionId)!);
            score.Parameters.AddWithValue("position", i);
            score.Parameters.AddWithValue("criterion", Clean(c.Criterion)!);
            score.Parameters.AddWithValue("weight", c.Weight);
            score.Parameters.AddWithValue("score", c.Score);
            score.Parameters.AddWithValue("evidence", c.Evidence.Select(e => Clean(e)!).ToArray());
            score.Parameters.AddWithValue("rationale", NpgsqlDbType.Text, (object?)Clean(c.Rationale) ?? DBNull.Value);
            await score.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<TranscriptView?> GetTranscriptAsync(string tenantId, string sessionId, CancellationToken ct = default)
    {
        await using var connection = await connections.Replica.OpenConnectionAsync(ct);
        DateTimeOffset storedAt;
        string source;
        await using (var header = new NpgsqlCommand("select stored_at, source from transcripts where session_id = @session_id and tenant_id = @tenant_id", connection))
        {
            header.Parameters.AddWithValue("session_id", Clean(sessionId)!);
            header.Parameters.AddWithValue("tenant_id", Clean(tenantId)!);
            await using var row = await header.ExecuteReaderAsync(ct);
            if (!await row.ReadAsync(ct)) return null;
            (storedAt, source) = (row.GetFieldValue<DateTimeOffset>(0), row.GetString(1));
        }
        var turns = new List<TranscriptTurn>();
        await using var command = new NpgsqlCommand(
            "select seq, speaker, text, started_at, ended_at from transcript_turns where session_id = @session_id order by seq", connection);
        command.Parameters.AddWithValue("session_id", Clean(sessionId)!);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            turns.Add(new TranscriptTurn(reader.GetInt32(0), Enum.Parse<ParticipantRole>(reader.GetString(1)), reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4)));
        return new TranscriptView(sessionId, turns, storedAt, source);
    }

    public async Task<EvaluationView?> GetEvaluationAsync(string tenantId, string sessionId, CancellationToken ct = default)
    {
        await using var connection = await connections.Replica.OpenConnectionAsync(ct);
        EvaluationView view;
        await using (var header = new NpgsqlCommand("""
            select status, evaluator, overall_score, scale_max, failure_reason, attempts, evaluated_at
            from evaluations where session_id = @session_id and tenant_id = @tenant_id
            """, connection))
        {
            header.Parameters.AddWithValue("session_id", Clean(sessionId)!);
            header.Parameters.AddWithValue("tenant_id", Clean(tenantId)!);
            await using var r = await header.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return null;
            view = new EvaluationView(sessionId, ParseStatus(r.GetString(0)), r.GetString(1), r.IsDBNull(2) ? null : r.GetDouble(2),
                r.GetInt32(3), [], r.IsDBNull(4) ? null : r.GetString(4), r.GetInt32(5), r.GetFieldValue<DateTimeOffset>(6));
        }
        var criteria = new List<CriterionScore>();
        await using var command = new NpgsqlCommand(
            "select criterion, weight, score, evidence, rationale from evaluation_scores where session_id = @session_id order by position", connection);
        command.Parameters.AddWithValue("session_id", Clean(sessionId)!);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            criteria.Add(new CriterionScore(reader.GetString(0), reader.GetDouble(1), reader.GetDouble(2),
                reader.GetFieldValue<string[]>(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        return view with { Criteria = criteria };
    }

    public async Task AppendAuditAsync(AuditEntry entry, CancellationToken ct = default)
    {
        await using var command = connections.Primary.CreateCommand();
        AddAudit(command, entry);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string tenantId, string sessionId, CancellationToken ct = default)
    {
        // The audit trail is read from the primary: a replica may lag behind the deletion it is asked to prove.
        await using var command = connections.Primary.CreateCommand(
            "select action, actor, detail, at from audit_log where session_id = @session_id and tenant_id = @tenant_id order by id");
        command.Parameters.AddWithValue("session_id", Clean(sessionId)!);
        command.Parameters.AddWithValue("tenant_id", Clean(tenantId)!);
        var entries = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            entries.Add(new AuditEntry(sessionId, tenantId, reader.GetString(0), reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        return entries;
    }

    public async Task<DeletionCounts> DeleteSessionDataAsync(string tenantId, string sessionId, AuditEntry audit, CancellationToken ct = default)
    {
        await using var connection = await connections.Primary.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        int turns, evaluations, interviews;
        await using (var count = new NpgsqlCommand("""
            select (select count(*) from transcript_turns t join interviews i using (session_id) where i.session_id = @session_id and i.tenant_id = @tenant_id),
                   (select count(*) from evaluations where session_id = @session_id and tenant_id = @tenant_id)
            """, connection, tx))
        {
            count.Parameters.AddWithValue("session_id", Clean(sessionId)!);
            count.Parameters.AddWithValue("tenant_id", Clean(tenantId)!);
            await using var r = await count.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            (turns, evaluations) = ((int)r.GetInt64(0), (int)r.GetInt64(1));
        }
        // Transcripts, turns, evaluations and scores go with the interview row (on delete cascade).
        await using (var delete = new NpgsqlCommand("delete from interviews where session_id = @session_id and tenant_id = @tenant_id", connection, tx))
        {
            delete.Parameters.AddWithValue("session_id", Clean(sessionId)!);
            delete.Parameters.AddWithValue("tenant_id", Clean(tenantId)!);
            interviews = await delete.ExecuteNonQueryAsync(ct);
        }
        var counts = new DeletionCounts(interviews, turns, evaluations);
        await using (var log = new NpgsqlCommand { Connection = connection, Transaction = tx })
        {
            AddAudit(log, audit with { Detail = audit.Detail is null ? counts.ToString() : $"{audit.Detail}; {counts}" });
            await log.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return counts;
    }

    private static async Task EnsureInterviewAsync(NpgsqlConnection connection, NpgsqlTransaction tx, SessionCompleted completed, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(InsertInterview + " on conflict (session_id) do nothing", connection, tx);
        AddInterview(command, completed, deleteAt: null);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static void AddInterview(NpgsqlCommand command, SessionCompleted c, DateTimeOffset? deleteAt)
    {
        var p = command.Parameters;
        p.AddWithValue("session_id", Clean(c.SessionId)!);
        p.AddWithValue("tenant_id", Clean(c.TenantId)!);
        p.AddWithValue("candidate_id", Clean(c.CandidateId)!);
        p.AddWithValue("job_id", Clean(c.JobId)!);
        p.AddWithValue("outcome", c.Outcome.ToString());
        p.AddWithValue("end_reason", NpgsqlDbType.Text, (object?)Clean(c.EndReason) ?? DBNull.Value);
        p.AddWithValue("created_at", Utc(c.CreatedAt));
        p.AddWithValue("started_at", NpgsqlDbType.TimestampTz, c.StartedAt is { } s ? Utc(s) : DBNull.Value);
        p.AddWithValue("ended_at", Utc(c.EndedAt));
        p.AddWithValue("consent_recording", c.Consent.Recording);
        p.AddWithValue("consent_transcription", c.Consent.Transcription);
        p.AddWithValue("consent_ai_evaluation", c.Consent.AiEvaluation);
        p.AddWithValue("delete_at", NpgsqlDbType.TimestampTz, deleteAt is { } d ? Utc(d) : DBNull.Value);
    }

    private static void AddAudit(NpgsqlCommand command, AuditEntry e)
    {
        command.CommandText = """
            insert into audit_log (session_id, tenant_id, action, actor, detail, at) values (@session_id, @tenant_id, @action, @actor, @detail, @at)
            """;
        command.Parameters.AddWithValue("session_id", Clean(e.SessionId)!);
        command.Parameters.AddWithValue("tenant_id", Clean(e.TenantId)!);
        command.Parameters.AddWithValue("action", Clean(e.Action)!);
        command.Parameters.AddWithValue("actor", Clean(e.Actor)!);
        command.Parameters.AddWithValue("detail", NpgsqlDbType.Text, (object?)Clean(e.Detail) ?? DBNull.Value);
        command.Parameters.AddWithValue("at", Utc(e.At));
    }

    /// <summary>PostgreSQL text cannot hold NUL; it is the one character we replace (with U+FFFD) rather than refuse. Reads clean their keys the same way.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(value))]
    private static string? Clean(string? value) => value is null || !value.Contains('\0') ? value : value.Replace('\0', '\uFFFD');

    private static DateTime Utc(DateTimeOffset value) => value.UtcDateTime;

    private static string StatusName(EvaluationStatus s) => s switch
    {
        EvaluationStatus.Succeeded => "succeeded",
        EvaluationStatus.Failed => "failed",
        _ => "skipped",
    };

    private static EvaluationStatus ParseStatus(string s) => s switch
    {
        "succeeded" => EvaluationStatus.Succeeded,
        "failed" => EvaluationStatus.Failed,
        _ => EvaluationStatus.Skipped,
    };
}
