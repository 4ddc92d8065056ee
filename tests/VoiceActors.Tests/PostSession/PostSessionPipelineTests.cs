using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>The pipeline on the embedded default: memory streams, in-memory repository, one silo.</summary>
public sealed class PostSessionPipelineTests
{
    [Fact]
    public async Task Completed_session_gets_its_transcript_evaluation_and_timeline_entry()
    {
        await using var silo = await StartAsync(Settings());
        var id = await CompleteInterviewAsync(silo.Grains);

        var evaluation = await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null,
            TimeSpan.FromSeconds(10), "evaluation");
        Assert.Equal(EvaluationStatus.Succeeded, evaluation!.Status);
        Assert.Equal(RubricCoverageEvaluator.EvaluatorName, evaluation.Evaluator);
        // design: partition, cache, replica = 3 of 3 -> 5; communication: "because" only = 1 of 2 -> 2.5; overall 0.5*5 + 0.5*2.5
        Assert.Equal([5.0, 2.5], evaluation.Criteria.Select(c => c.Score));
        Assert.Equal(3.75, evaluation.OverallScore);
        Assert.Contains("Put a cache in front and serve reads from a replica.", evaluation.Criteria[0].Evidence);
        Assert.All(evaluation.Criteria.SelectMany(c => c.Evidence), quote => Assert.Contains(quote, DefaultTurns.Select(t => t.Item2)));

        var transcript = await silo.Grains.GetGrain<ITranscriptGrain>(id).Get(Tenant, "test");
        Assert.NotNull(transcript);
        Assert.Equal(DefaultTurns.Select(t => t.Item2), transcript.Turns.Select(t => t.Text));
        Assert.Equal([0, 1, 2, 3], transcript.Turns.Select(t => t.Sequence));
        Assert.Equal(Start, transcript.Turns[0].StartedAt);

        var session = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        var snapshot = await EventuallyAsync(() => session.Get(Tenant), s => s.PostSessionPending is { Count: 0 }, TimeSpan.FromSeconds(10), "all acks");
        Assert.Empty(snapshot.PostSessionPending!);
        var timeline = await session.GetTimeline(Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Evaluated && e.Detail!.Contains("3.75/5"));

        var compliance = await silo.Grains.GetGrain<IComplianceGrain>(id).GetStatus(Tenant);
        Assert.NotNull(compliance);
        Assert.Equal(snapshot.EndedAt!.Value + TimeSpan.FromDays(30), compliance.DeleteAt);
        Assert.True(compliance.Consent.AiEvaluation);
    }

    [Fact]
    public async Task Results_of_one_tenant_are_not_found_by_another()
    {
        await using var silo = await StartAsync(Settings());
        var id = await CompleteInterviewAsync(silo.Grains);
        await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null, TimeSpan.FromSeconds(10), "evaluation");

        Assert.Null(await silo.Grains.GetGrain<IEvaluationGrain>(id).Get("other-tenant", "test"));
        Assert.Null(await silo.Grains.GetGrain<ITranscriptGrain>(id).Get("other-tenant", "test"));
        Assert.Null(await silo.Grains.GetGrain<IComplianceGrain>(id).GetStatus("other-tenant"));
    }

    [Fact]
    public async Task Interview_without_candidate_speech_is_stored_as_failed_with_a_reason_never_as_zero()
    {
        await using var silo = await StartAsync(Settings());
        var id = await CompleteInterviewAsync(silo.Grains, turns: [(ParticipantRole.Agent, "Hello? Are you there?")]);

        var evaluation = await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null,
            TimeSpan.FromSeconds(10), "evaluation");
        Assert.Equal(EvaluationStatus.Failed, evaluation!.Status);
        Assert.Null(evaluation.OverallScore);
        Assert.Empty(evaluation.Criteria);
        Assert.Contains("no candidate speech", evaluation.FailureReason);
        Assert.Equal(1, evaluation.Attempts); // retrying cannot help: not retried
    }

    [Fact]
    public async Task Without_consent_there_is_no_transcript_and_no_ai_evaluation()
    {
        await using var silo = await StartAsync(Settings());
        var id = await CompleteInterviewAsync(silo.Grains, consent: new ConsentFlags(Recording: true, Transcription: false, AiEvaluation: false));

        var evaluation = await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null,
            TimeSpan.FromSeconds(10), "evaluation");
        Assert.Equal(EvaluationStatus.Skipped, evaluation!.Status);
        Assert.Null(evaluation.OverallScore);
        Assert.Contains("did not consent", evaluation.FailureReason);
        await EventuallyAsync(() => silo.Grains.GetGrain<IInterviewSessionGrain>(id).Get(Tenant), s => s.PostSessionPending is { Count: 0 },
            TimeSpan.FromSeconds(10), "all acks");
        Assert.Null(await silo.Grains.GetGrain<ITranscriptGrain>(id).Get(Tenant, "test"));
    }

    [Fact]
    public async Task Expired_session_emits_session_completed_too()
    {
        await using var silo = await StartAsync(Settings());
        var id = SessionIds.New();
        var session = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        await session.Create(new CreateSession(Tenant, "cand", "job", ProviderSettings.Default, new ConsentFlags(true, true, true), "local", TestRubric));
        silo.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(SessionStatus.Expired, await session.WatchdogTickAsync(Tenant));

        var evaluation = await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null,
            TimeSpan.FromSeconds(10), "evaluation");
        Assert.Equal(EvaluationStatus.Skipped, evaluation!.Status);
        Assert.Contains("Expired", evaluation.FailureReason);
    }
}
