using Orleans.Serialization.Invocation;
using VoiceActors.LoadTest.Load;

namespace VoiceActors.Tests.LoadTesting;

/// <summary>
/// The load tester bounds Orleans' per-thread pool of call completion sources: without it every call its pump thread makes
/// leaves one source on the thread that completed it, for good (the 60-minute soak's tester grew to 1.3 GB).
/// The pool is the process' own: these run alone, so no load run in a parallel test resets the bound under them.
/// </summary>
[Collection(nameof(ResponsePoolBoundTests))]
public sealed class ResponsePoolBoundTests
{
    [Fact]
    public void The_tester_finds_the_pool_of_this_Orleans_version_and_bounds_it()
    {
        Assert.True(ResponsePoolBound.Apply(), "Orleans' ResponseCompletionSourcePool.UntypedPool.MaxPoolSize is gone: find the new pool, or drop the bound if Orleans bounds it now");
        Assert.Equal(ResponsePoolBound.PerThread, ResponsePoolBound.Current());
    }

    [Fact]
    public void Sources_taken_on_one_thread_and_returned_on_another_are_kept_only_up_to_the_bound()
    {
        const int Bound = 64, Calls = 1_000;
        try
        {
            Assert.True(ResponsePoolBound.Apply(Bound));
            // The pump thread takes one source per call; another thread completes each call and returns its source.
            var taken = OnThread(() => Enumerable.Range(0, Calls).Select(_ => ResponseCompletionSourcePool.Get()).ToArray());
            var kept = OnThread(() =>
            {
                foreach (var source in taken) ResponseCompletionSourcePool.Return(source);
                // What this thread kept is what it now gets back instead of new ones.
                var again = Enumerable.Range(0, Calls).Select(_ => ResponseCompletionSourcePool.Get()).ToArray();
                return again.Count(s => taken.Contains(s));
            });
            Assert.Equal(Bound, kept); // unbounded (Orleans' default), the completing thread would have kept all 1,000
        }
        finally
        {
            ResponsePoolBound.Apply();
        }
    }

    /// <summary>Runs on a thread of its own: the pool's stacks are per thread, so a pool thread could already hold sources.</summary>
    private static T OnThread<T>(Func<T> work)
    {
        T result = default!;
        var thread = new Thread(() => result = work());
        thread.Start();
        thread.Join();
        return result;
    }
}

[CollectionDefinition(nameof(ResponsePoolBoundTests), DisableParallelization = true)]
public sealed class ResponsePoolBoundCollection;
