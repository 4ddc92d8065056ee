using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession;
using VoiceActors.PostSession.Persistence;
using VoiceActors.PostSession.Transcription;

namespace Orleans.Hosting;

public static class PostSessionHosting
{
    /// <summary>
    /// The post-session pipeline: the <c>session.completed</c> stream (memory streams; durability comes from the session's
    /// outbox, see <c>Sessions/SessionOutbox.cs</c>), the transcript, evaluation and compliance consumers, and their
    /// repository: PostgreSQL when <c>ConnectionStrings:Postgres</c> is set (migrated at start-up, reads from
    /// <c>ConnectionStrings:PostgresReplica</c> when set), otherwise process memory.
    /// </summary>
    public static ISiloBuilder AddPostSession(this ISiloBuilder silo, IConfiguration config)
    {
        var services = silo.Services;
        services.AddValidatedOptions<PostSessionOptions, PostSessionOptionsValidator>(PostSessionOptions.Section);
        services.AddValidatedOptions<EvaluationOptions, EvaluationOptionsValidator>(EvaluationOptions.Section);
        services.AddValidatedOptions<LlmEvaluatorOptions, LlmEvaluatorOptionsValidator>(LlmEvaluatorOptions.Section);
        services.AddValidatedOptions<RetentionOptions, RetentionOptionsValidator>(RetentionOptions.Section);
        services.AddValidatedOptions<WebhookOptions, WebhookOptionsValidator>(WebhookOptions.Section);
        services.AddValidatedOptions<TranscriptionOptions, TranscriptionOptionsValidator>(TranscriptionOptions.Section);
        services.AddSingleton<RecordingTranscription>();

        services.AddKeyedSingleton<IInterviewEvaluator, RubricCoverageEvaluator>(RubricCoverageEvaluator.EvaluatorName);
        services.AddKeyedSingleton<IInterviewEvaluator, LlmEvaluator>(LlmEvaluator.EvaluatorName);
        services.AddSingleton<EvaluationRunner>();
        services.AddSingleton<InterviewerWebhook>();
        services.TryAddSingleton(TimeProvider.System);

        if (config.GetConnectionString("Postgres") is { Length: > 0 } postgres)
        {
            services.AddSingleton(new PostgresConnections(postgres, config.GetConnectionString("PostgresReplica")));
            services.AddSingleton<PostgresMigrations>();
            services.AddSingleton<IPostSessionRepository, PostgresPostSessionRepository>();
            // Before the silo takes grain calls: no consumer may write into a schema that is not there yet.
            silo.AddStartupTask((sp, ct) => sp.GetRequiredService<PostgresMigrations>().ApplyAsync(ct), ServiceLifecycleStage.ApplicationServices);
        }
        else
        {
            services.AddSingleton<IPostSessionRepository, InMemoryPostSessionRepository>();
        }

        silo.AddMemoryStreams(PostSessionConsumers.StreamProvider);
        // Implicit subscriptions need no pub-sub state, but the runtime asks for the store; memory is enough.
        silo.AddMemoryGrainStorage("PubSubStore");
        return silo;
    }
}
