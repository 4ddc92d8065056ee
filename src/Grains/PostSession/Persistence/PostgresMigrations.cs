using Microsoft.Extensions.Logging;
using Npgsql;

namespace VoiceActors.PostSession.Persistence;

/// <summary>
/// Versioned, idempotent schema migrations, applied at silo start-up. All of them run in one transaction that first takes a
/// transaction-scoped advisory lock, so silos starting together apply each version exactly once, and it works through PgBouncer
/// in transaction mode (a session-level lock would not). Applied versions are recorded in <c>schema_migrations</c>.
/// </summary>
public sealed partial class PostgresMigrations(PostgresConnections connections, ILogger<PostgresMigrations> logger)
{
    private const long LockKey = 0x766f696365616374; // "voiceact"

    /// <summary>Append only: a released migration is never edited; a change is a new version.</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> All { get; } =
    [
        (1, "interviews, transcripts, evaluations, audit log", """
            create table interviews (
                session_id text primary key,
                tenant_id text not null,
                candidate_id text not null,
                job_id text not null,
                outcome text not null,
                end_reason text,
                created_at timestamptz not null,
                started_at timestamptz,
                ended_at timestamptz not null,
                consent_recording boolean not null,
                consent_transcription boolean not null,
                consent_ai_evaluation boolean not null,
                delete_at timestamptz,
                recorded_at timestamptz not null default now()
            );
            create index interviews_tenant on interviews (tenant_id);
            create index interviews_delete_at on interviews (delete_at);

            create table transcripts (
                session_id text primary key references interviews (session_id) on delete cascade,
                tenant_id text not null,
                turn_count integer not null,
                stored_at timestamptz not null
            );
            create table transcript_turns (
                session_id text not null references transcripts (session_id) on delete cascade,
                seq integer not null,
                speaker text not null,
                text text not null,
                started_at timestamptz not null,
                ended_at timestamptz not null,
                primary key (session_id, seq)
            );

            create table evaluations (
                session_id text primary key references interviews (session_id) on delete cascade,
                tenant_id text not null,
                status text not null check (status in ('succeeded', 'failed', 'skipped')),
                evaluator text not null,
                overall_score double precision,
                scale_max integer not null,
                failure_reason text,
                attempts integer not null,
                evaluated_at timestamptz not null,
                -- never a silent zero: only a successful evaluation has a score, and a failure always says why
                constraint evaluations_score_iff_succeeded check ((status = 'succeeded') = (overall_score is not null)),
                constraint evaluations_failure_has_reason check (status <> 'failed' or failure_reason is not null)
            );
            create table evaluation_scores (
                session_id text not null references evaluations (session_id) on delete cascade,
                position integer not null,
                criterion text not null,
                weight double precision not null,
                score double precision not null,
                evidence text[] not null,
                rationale text,
                primary key (session_id, position)
            );

            create table audit_log (
                id bigint generated always as identity primary key,
                session_id text not null,
                tenant_id text not null,
                action text not null,
                actor text not null,
                detail text,
                at timestamptz not null
            );
            create index audit_log_session on audit_log (session_id, tenant_id);
            """),
        (2, "where a transcript came from", """
            alter table transcripts add column source text not null default 'provider';
            """),
    ];

    public async Task<int> ApplyAsync(CancellationToken ct = default)
    {
        await using var connection = await connections.Primary.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await Execute(connection, tx, "select pg_advisory_xact_lock(@key)", ct, ("key", LockKey));
        await Execute(connection, tx, """
            create table if not exists schema_migrations (
                version integer primary key,
                name text not null,
                applied_at timestamptz not null default now()
            )
            """, ct);
        var applied = new HashSet<int>();
        await using (var read = new NpgsqlCommand("select version from schema_migrations", connection, tx))
        await using (var reader = await read.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) applied.Add(reader.GetInt32(0));

        var count = 0;
        foreach (var (version, name, sql) in All)
        {
            if (applied.Contains(version)) continue;
            await Execute(connection, tx, sql, ct);
            await Execute(connection, tx, "insert into schema_migrations (version, name) values (@version, @name)", ct, ("version", version), ("name", name));
            LogApplied(version, name);
            count++;
        }
        await tx.CommitAsync(ct);
        return count;
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Version}: {Name}")]
    private partial void LogApplied(int version, string name);
}
