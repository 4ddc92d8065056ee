using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>Shared pieces of the post-session tests: a cluster whose grains see the fake clock, and interviews to complete.</summary>
public static class PostSessionTestKit
{
    public const string Tenant = "acme";
    public static readonly DateTimeOffset Start = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    public static readonly Rubric TestRubric = new(
    [
        new("System design", "Designs for scale", 0.5, ["partition", "cache", "replica"]),
        new("Communication", "Explains trade-offs", 0.5, ["because", "trade-off"]),
    ]);

    public static Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["PostSession:RedeliveryPeriod"] = "00:00:01",
            ["PostSession:Retention:CheckPeriod"] = "00:00:01",
            ["PostSession:Evaluation:RetryBackoff"] = "00:00:00",
        };
        foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }

    public static Task<TestSilo> StartAsync(Dictionary<string, string?> settings, int silos = 1, Action<IServiceCollection>? services = null) =>
        TestSilo.StartAsync(settings, silos, s =>
        {
            if (Environment.GetEnvironmentVariable("VA_TEST_LOG") == "1") s.AddLogging(b => Microsoft.Extensions.Logging.ConsoleLoggerExtensions.AddConsole(b));
            services?.Invoke(s);
        });

    /// <summary>Creates a session, has candidate and agent talk, and completes it.</summary>
    public static async Task<string> CompleteInterviewAsync(IGrainFactory grains, ConsentFlags? consent = null, Rubric? rubric = null,
        string candidateId = "cand-1", string jobId = "job-1", IReadOnlyList<(ParticipantRole Speaker, string Text)>? turns = null)
    {
        var id = SessionIds.New();
        var session = grains.GetGrain<IInterviewSessionGrain>(id);
        await session.Create(new CreateSession(Tenant, candidateId, jobId, ProviderSettings.Default,
            consent ?? new ConsentFlags(true, true, true), "local", rubric ?? TestRubric));
        await session.JoinAsync("candidate", ParticipantRole.Candidate);
        await session.JoinAsync("agent", ParticipantRole.Agent);
        var at = Start;
        foreach (var (speaker, text) in turns ?? DefaultTurns)
        {
            await session.RecordTurn(new Turn(speaker, text, at, at.AddSeconds(4)));
            at = at.AddSeconds(5);
        }
        await session.Complete(Tenant, "interview finished");
        return id;
    }

    public static readonly (ParticipantRole, string)[] DefaultTurns =
    [
        (ParticipantRole.Agent, "How would you scale the orders service?"),
        (ParticipantRole.Candidate, "I would partition the data by customer because hot keys hurt."),
        (ParticipantRole.Agent, "And reads?"),
        (ParticipantRole.Candidate, "Put a cache in front and serve reads from a replica."),
    ];

    /// <summary>Polls until <paramref name="condition"/> holds; the pipeline runs on real streams and reminders, so it needs real time.</summary>
    public static Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what) =>
        Eventually.ValueAsync(probe, condition, timeout, value => $"{what} did not happen within {timeout}; last value: {value}");
}
