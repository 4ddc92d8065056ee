using VoiceActors.LiveKit;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>The bounded window a session keeps of its conversation gives every provider the replay the whole conversation would.</summary>
public sealed class ConversationWindowTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    public static TheoryData<int> Seeds => [1, 2, 3];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Replays_from_the_window_equal_replays_from_the_whole_conversation_and_the_window_stays_bounded(int seed)
    {
        var random = new Random(seed);
        // Two providers a session may fail over between, with different limits; the window serves both.
        ProviderSessionOptions[] providers =
        [
            new() { ContextTokens = 600, VerbatimTurns = 4, CondensedTurnChars = 30 },
            new() { ContextTokens = 900, VerbatimTurns = 2, CondensedTurnChars = 80 },
        ];
        var limits = ReplayLimits.Of(providers);
        var window = new ConversationWindow(limits);
        var all = new List<Turn>();
        var held = new List<int>();
        for (var n = 1; n <= 1200; n++)
        {
            var turn = RandomTurn(random, n);
            all.Add(turn);
            window.Add(turn);
            Assert.Equal(n, window.Count);
            if (n % 37 != 0 && n > 40) continue;
            foreach (var options in providers)
                foreach (var continuation in new[] { false, true })
                    AssertSameReplay(ProviderRotation.Plan(all.ToArray(), options, continuation), ProviderRotation.Plan(window.Snapshot(), options, continuation));
            held.Add(window.Held);
        }
        // Flat: a digest line takes at least 13 characters, so no more than the budget's worth of lines plus the verbatim turns.
        var bound = limits.VerbatimTurns + limits.BudgetChars / 13 + 1;
        Assert.All(held, h => Assert.InRange(h, 1, bound));
        Assert.True(window.Held < 400, $"the window holds {window.Held} of 1200 turns");

        // Loading from a log (newest first, in pages) gives the window that growing it turn by turn gave.
        var loaded = new ConversationWindow(limits);
        var reads = 0;
        await loaded.LoadAsync(all.Count, (from, count) =>
        {
            reads++;
            return Task.FromResult<IReadOnlyList<Turn>>(all.Skip(from).Take(count).ToArray());
        }, page: 64);
        Assert.Equal(window.Snapshot().Earlier, loaded.Snapshot().Earlier);
        Assert.Equal(window.Snapshot().Turns, loaded.Snapshot().Turns);
        Assert.True(reads < all.Count / 64, $"{reads} pages read back, not the whole log");
    }

    private static void AssertSameReplay(Replay expected, Replay actual)
    {
        Assert.Equal(expected.Context, actual.Context);
        Assert.Equal(expected.Condensed, actual.Condensed);
        Assert.Equal(expected.Omitted, actual.Omitted);
        Assert.Equal(expected.Verbatim, actual.Verbatim);
    }

    /// <summary>Short and long turns, some with runs of whitespace, so digests truncate, collapse and fill at varying counts.</summary>
    private static Turn RandomTurn(Random random, int n)
    {
        var words = random.Next(1, random.Next(2) == 0 ? 4 : 60);
        var text = string.Join(random.Next(5) == 0 ? "  \n " : " ", Enumerable.Range(0, words).Select(w => $"w{n}x{random.Next(1000)}"));
        return new Turn(n % 2 == 0 ? ParticipantRole.Candidate : ParticipantRole.Agent, text, T0.AddSeconds(n * 10), T0.AddSeconds(n * 10 + 5));
    }
}
