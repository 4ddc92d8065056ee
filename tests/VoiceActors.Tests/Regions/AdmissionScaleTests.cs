using System.Collections.Concurrent;
using VoiceActors.Regions;

namespace VoiceActors.Tests.Regions;

/// <summary>
/// The shape that lets admission scale: a burst of creates is admitted by stateless workers reading each silo's cached view,
/// so the shared grains (the directory, the regions' capacity) see a handful of calls per refresh, not one per create.
/// How fast that is, is the load tester's job (<c>--admission-ceiling-duration</c>, BENCHMARKS.md).
/// </summary>
public sealed class AdmissionScaleTests : IAsyncLifetime
{
    private const int Creates = 300;
    private readonly CallCounter _calls = new();
    private TestSilo _silo = null!;

    public async Task InitializeAsync() =>
        _silo = await TestSilo.StartAsync(silos: 2, services: s => s.AddSingleton<IIncomingGrainCallFilter>(_calls));

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Fact]
    public async Task A_burst_of_creates_is_admitted_without_one_call_per_create_to_any_shared_grain()
    {
        var request = new AdmissionRequest("tenant-burst", null);
        var created = await Task.WhenAll(Enumerable.Range(0, Creates).Select(async i =>
        {
            var id = SessionIds.New();
            var (admission, session) = await _silo.Grains.AdmitAndCreateAsync(id, request, region => new CreateSession(
                "tenant-burst", $"candidate-{i}", "job-burst", ProviderSettings.Default, ConsentFlags.None, region));
            return (admission, session);
        }));

        Assert.All(created, c => Assert.Equal(SessionStatus.WaitingForParticipants, c.session.Status));
        Assert.Equal(Creates, _calls.Of<IRegionAdmissionGrain>());
        Assert.Equal(Creates, _calls.Of<IInterviewSessionGrain>(nameof(IInterviewSessionGrain.Create)));
        // The view refreshes once per period per silo (the test clock stands still, so about once per silo in all).
        var shared = _calls.Of<ICapacityGrain>() + _calls.Of<IRegionDirectoryGrain>();
        Assert.True(shared <= 12, $"{shared} calls reached the shared capacity and directory grains for {Creates} creates");
    }

    private sealed class CallCounter : IIncomingGrainCallFilter
    {
        private readonly ConcurrentDictionary<(Type, string), int> _counts = new();

        public int Of<T>(string? method = null)
        {
            var total = 0;
            foreach (var ((type, name), n) in _counts)
                if (type == typeof(T) && (method is null || name == method)) total += n;
            return total;
        }

        public Task Invoke(IIncomingGrainCallContext context)
        {
            _counts.AddOrUpdate((context.InterfaceMethod.DeclaringType!, context.MethodName), 1, static (_, n) => n + 1);
            return context.Invoke();
        }
    }
}
