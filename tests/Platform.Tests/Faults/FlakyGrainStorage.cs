using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Platform.Tests.Faults;

/// <summary>
/// Grain storage in memory whose writes of <typeparamref name="TFlaky"/> state fail as a storage outage would: each write fails
/// <see cref="FailuresPerWrite"/> times before it is stored. Stored state is a copy, so a grain that is deactivated and
/// reloaded sees only what was written, never what it held in memory.
/// </summary>
public sealed class FlakyGrainStorage<TFlaky>(DeepCopier copier) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly ConcurrentDictionary<(string, GrainId), (object State, string ETag)> stored = new();
    private int failedInARow;
    private int failures;

    public int FailuresPerWrite { get; set; }

    /// <summary>Nothing to set up; the host registers every grain storage as a lifecycle participant.</summary>
    public void Participate(ISiloLifecycle lifecycle) { }

    /// <summary>Writes refused so far: the faults injected.</summary>
    public int Failures => Volatile.Read(ref failures);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (stored.TryGetValue((stateName, grainId), out var entry))
        {
            grainState.State = copier.Copy((T)entry.State);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (typeof(T) == typeof(TFlaky))
        {
            lock (stored)
            {
                if (failedInARow < FailuresPerWrite)
                {
                    failedInARow++;
                    failures++;
                    return Task.FromException(new TimeoutException("injected: the storage did not answer"));
                }
                failedInARow = 0;
            }
        }
        lock (stored)
        {
            var key = (stateName, grainId);
            if (stored.TryGetValue(key, out var entry) ? entry.ETag != grainState.ETag : grainState.ETag is not null)
                return Task.FromException(new InconsistentStateException($"ETag {grainState.ETag} is stale", entry.ETag, grainState.ETag));
            var etag = Guid.NewGuid().ToString("N");
            stored[key] = (copier.Copy(grainState.State)!, etag);
            grainState.ETag = etag;
            grainState.RecordExists = true;
        }
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        stored.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
