using System.Collections.Concurrent;
using System.Net.Http.Json;
using Orleans.Diagnostics;

namespace VoiceActors.Tests.Operations;

/// <summary>A caller's trace continues through the HTTP request into the grain calls it causes (Orleans activity propagation).</summary>
public sealed class TracingTests(OperationsSystem ops) : IClassFixture<OperationsSystem>
{
    [Fact]
    public async Task A_callers_trace_continues_into_the_session_grain_call_and_its_storage_write()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Microsoft.AspNetCore"
                or ActivitySources.ApplicationGrainActivitySourceName or ActivitySources.StorageActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        // The caller (a backend service) is inside a trace of its own; HttpClient sends it as traceparent.
        var traceId = ActivityTraceId.CreateRandom();
        using (new Activity("backend-creates-interview").SetParentId(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start())
        {
            var response = await ops.TenantA.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-trace", jobId = "job-trace" });
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        }

        var inTrace = spans.Where(a => a.TraceId == traceId).ToArray();
        var http = Assert.Single(inTrace, a => a.Source.Name == "Microsoft.AspNetCore");
        var grainCalls = inTrace.Where(a => a.Source.Name == ActivitySources.ApplicationGrainActivitySourceName && a.DisplayName == "IInterviewSessionGrain/Create").ToArray();
        Assert.NotEmpty(grainCalls);
        Assert.Contains(grainCalls, a => a.ParentSpanId == http.SpanId); // the client-side span of the grain call hangs under the request
        Assert.Contains(inTrace, a => a.Source.Name == ActivitySources.StorageActivitySourceName); // and the state write under the call
    }
}
