using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace VoiceActors.Regions;

/// <summary>
/// Admission for new interviews: region selection against this silo's cached view. A stateless worker, so every silo
/// answers locally in parallel; the only shared state is the view, refreshed once per period per silo.
/// </summary>
[StatelessWorker]
public sealed class RegionAdmissionGrain(RegionView view, RegionViewRefresher refresher, IOptions<RegionHealthOptions> options)
    : Grain, IRegionAdmissionGrain
{
    async Task<RegionAdmission> IRegionAdmissionGrain.Admit(AdmissionRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.TenantId)) throw new RequestValidationException("tenantId", "is required");
        if (!view.IsLoaded) await refresher.RefreshAsync(CancellationToken.None); // first create after start: load once instead of refusing
        var retryAfter = (int)Math.Ceiling(options.Value.RetryAfter.TotalSeconds);
        var admission = RegionSelector.Select(view.Directory!, view.Capacity, request, retryAfter);
        view.NoteAdmitted(admission.Region);
        return admission;
    }
}
