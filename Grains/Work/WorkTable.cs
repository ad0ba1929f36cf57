using Platform.Grains.Ingestion;

namespace Platform.Grains.Work;

/// <summary>
/// One row of a <see cref="WorkTable{TItem}"/>, kept in its coordinator's grain state; coordinators derive their rows
/// from it to keep what their items are and what their workers reported.
/// </summary>
[GenerateSerializer]
public class WorkItem
{
    /// <summary>
    /// The item's id in its table, never reused there: what workers' reports name. Its position in a table that only grows (an
    /// ingest job's), and in one that removes finished items (the training scheduler's) the id it was given when added.
    /// </summary>
    [Id(0)] public int Index { get; set; }
    [Id(1)] public WorkUnitState State { get; set; }
    /// <summary>The attempt handed out last (0: never); a report names its attempt and only the latest one counts.</summary>
    [Id(2)] public int Attempt { get; set; }
    [Id(3)] public string? Worker { get; set; }
    [Id(4)] public string? LastError { get; set; }
    /// <summary>Progress the running attempt reported last (bytes or records done), null while unmeasured.</summary>
    [Id(5)] public long? Progress { get; set; }

    public bool IsFinished => State is WorkUnitState.Done or WorkUnitState.Failed;
}

/// <param name="LeaseTimeout">A running attempt whose worker has not sent a heartbeat for this long is presumed lost.</param>
/// <param name="StallTimeout">
/// A running attempt whose reported progress has not advanced for this long loses its lease even though its worker still
/// heartbeats (a thread stuck in a read, say). Only measured progress counts: an attempt waiting for a work slot, or whose worker
/// does not measure progress, is held by its heartbeats alone. Zero or less: off.
/// </param>
/// <param name="MaxAttempts">Attempts per item; the last failure or lost lease fails the item.</param>
public sealed record WorkTableOptions(TimeSpan LeaseTimeout, TimeSpan StallTimeout, int MaxAttempts);

/// <summary>What a report or a lost lease did to an item.</summary>
public enum WorkOutcome
{
    /// <summary>The report came from the current attempt and was taken.</summary>
    Accepted,
    /// <summary>The same attempt's completion arrived again (a retried call); it was taken the first time.</summary>
    Repeated,
    /// <summary>The report came from a superseded attempt, or the item is no longer running: ignored.</summary>
    Refused,
    /// <summary>The attempt failed or lost its lease; the item is pending again under a later attempt.</summary>
    Retried,
    /// <summary>The attempt failed or lost its lease and was the last one allowed; the item failed.</summary>
    GaveUp,
}

/// <summary>
/// Items, attempts, leases, dispatch, retry and progress for one coordinator: the rows live in the coordinator's
/// durable state (<typeparamref name="TItem"/>), the lease deadlines in memory only. A coordinator that reactivates
/// gives every running attempt a fresh lease (<see cref="ResumeLeases"/>), so live workers check in before anything is
/// redone. Attempt numbers are never reused: a dispatched attempt's number must be durable before its worker starts,
/// and an item put back after a lost lease keeps its used number, so a late report of the lost attempt is refused and
/// nothing is counted twice. Items are found by their <see cref="WorkItem.Index"/>, not their position, so a coordinator may remove
/// finished items (<see cref="Remove"/>) without a later report reaching the wrong one. No Orleans runtime calls here: the clock is injected.
/// </summary>
public sealed class WorkTable<TItem>(List<TItem> items, WorkTableOptions options, TimeProvider clock) where TItem : WorkItem
{
    private sealed class Lease(DateTimeOffset now)
    {
        public DateTimeOffset HeardAt { get; set; } = now;
        public DateTimeOffset ProgressedAt { get; set; } = now;
        public long? Progress { get; set; }
    }

    private readonly Dictionary<int, Lease> leases = [];

    public IReadOnlyList<TItem> Items => items;

    public WorkTableOptions Options => options;

    public bool AllDone => items.All(i => i.State == WorkUnitState.Done);

    public bool AllFinished => items.All(i => i.IsFinished);

    public int Count(WorkUnitState state) => items.Count(i => i.State == state);

    /// <summary>Attempts beyond each item's first: how often work was redone.</summary>
    public int Restarts => items.Sum(i => Math.Max(0, i.Attempt - 1));

    public TItem this[int index] => Find(index) ?? throw new KeyNotFoundException($"The work table holds no item {index}.");

    /// <summary>
    /// By position first, which is the index in a table that never removed an item; otherwise by search (a table that removes its
    /// finished items stays small). No map to keep in step: coordinators fill the list themselves when they load their rows.
    /// </summary>
    private TItem? Find(int index)
    {
        if (index >= 0 && index < items.Count && items[index].Index == index) return items[index];
        return items.Find(i => i.Index == index);
    }

    /// <summary>
    /// Appends a pending item under <paramref name="index"/>, or, when none is given, under its position (a table that never
    /// removes items). A coordinator that removes items gives each a new index it keeps durable, so none is ever reused.
    /// </summary>
    public TItem Add(TItem item, int? index = null)
    {
        if (index is { } given && Find(given) is not null) throw new InvalidOperationException($"The work table already holds an item {given}.");
        item.Index = index ?? items.Count;
        item.State = WorkUnitState.Pending;
        items.Add(item);
        return item;
    }

    /// <summary>Takes a finished item out of the table (its coordinator keeps its record elsewhere); false when it is not finished.</summary>
    public bool Remove(int index)
    {
        if (Find(index) is not { IsFinished: true } item) return false;
        items.Remove(item);
        leases.Remove(index);
        return true;
    }

    /// <summary>Replaces every item (a coordinator's next phase), forgetting the old leases.</summary>
    public void Reset(IEnumerable<TItem> replacement)
    {
        items.Clear();
        leases.Clear();
        foreach (var item in replacement) Add(item);
    }

    /// <summary>After a reactivation: every running attempt gets a fresh lease, so its worker can check in before it is redone.</summary>
    public void ResumeLeases()
    {
        var now = clock.GetUtcNow();
        foreach (var item in items.Where(i => i.State == WorkUnitState.Running)) leases[item.Index] = new Lease(now) { Progress = item.Progress };
    }

    /// <summary>
    /// Starts the next attempt of up to <paramref name="limit"/> pending items, each under a fresh lease. The caller makes
    /// the new attempt numbers durable before it starts the workers.
    /// </summary>
    public IReadOnlyList<TItem> Dispatch(int limit = int.MaxValue)
    {
        var started = items.Where(i => i.State == WorkUnitState.Pending).Take(limit).ToList();
        foreach (var item in started) StartAttempt(item);
        return started;
    }

    /// <summary>
    /// Starts the next attempt of one chosen pending item (a coordinator that orders its items itself, like the training
    /// scheduler's queue); false when the item is not pending. The caller makes the attempt number durable before it starts the worker.
    /// </summary>
    public bool Start(int index)
    {
        if (Find(index) is not { State: WorkUnitState.Pending } item) return false;
        StartAttempt(item);
        return true;
    }

    private void StartAttempt(TItem item)
    {
        item.State = WorkUnitState.Running;
        item.Attempt++;
        item.Worker = null;
        item.Progress = null;
        leases[item.Index] = new Lease(clock.GetUtcNow());
    }

    /// <summary>
    /// Puts a finished item back to pending (a paused training run resumed), keeping its attempt number so that a late
    /// report of its last attempt stays refused. False when the item is not finished.
    /// </summary>
    public bool Reopen(int index)
    {
        if (Find(index) is not { IsFinished: true } item) return false;
        item.State = WorkUnitState.Pending;
        return true;
    }

    /// <summary>Takes a pending item out of dispatch for good (its coordinator dropped it), failed with <paramref name="reason"/>. False when it is not pending.</summary>
    public bool Withdraw(int index, string reason)
    {
        if (Find(index) is not { State: WorkUnitState.Pending } item) return false;
        item.State = WorkUnitState.Failed;
        item.LastError = reason;
        return true;
    }

    /// <summary>True when <paramref name="attempt"/> of the item is the one running now.</summary>
    public bool IsCurrent(int index, int attempt) => Find(index) is { State: WorkUnitState.Running } item && item.Attempt == attempt;

    /// <summary>
    /// A worker still runs this attempt: renews its lease, and its stall clock when <paramref name="progress"/> advanced
    /// (or is unmeasured). False when the attempt was superseded: the worker should stop.
    /// </summary>
    public bool Heartbeat(int index, int attempt, string worker, long? progress)
    {
        if (!IsCurrent(index, attempt)) return false;
        var now = clock.GetUtcNow();
        var item = this[index];
        item.Worker = worker;
        if (!leases.TryGetValue(index, out var lease)) leases[index] = lease = new Lease(now);
        lease.HeardAt = now;
        if (progress is null || lease.Progress is null || progress > lease.Progress)
        {
            lease.ProgressedAt = now;
            lease.Progress = progress;
            item.Progress = progress;
        }
        return true;
    }

    /// <summary>True when the item is done and <paramref name="attempt"/> is the attempt whose report was taken.</summary>
    public bool IsDoneBy(int index, int attempt) => Find(index) is { State: WorkUnitState.Done } item && item.Attempt == attempt;

    /// <summary>The attempt finished. The caller keeps the report on the item only when <see cref="WorkOutcome.Accepted"/>.</summary>
    public WorkOutcome Complete(int index, int attempt)
    {
        if (IsDoneBy(index, attempt)) return WorkOutcome.Repeated;
        if (!IsCurrent(index, attempt)) return WorkOutcome.Refused;
        var item = this[index];
        item.State = WorkUnitState.Done;
        item.LastError = null;
        leases.Remove(index);
        return WorkOutcome.Accepted;
    }

    /// <summary>The attempt failed: the item is retried until its attempts run out.</summary>
    public WorkOutcome Fail(int index, int attempt, string error) =>
        IsCurrent(index, attempt) ? RetryOrGiveUp(this[index], error) : WorkOutcome.Refused;

    /// <summary>
    /// Takes the lease of every running attempt whose worker went silent for a lease, or whose progress stood still for the
    /// stall timeout, and retries the item or gives it up.
    /// </summary>
    public IReadOnlyList<(TItem Item, WorkOutcome Outcome)> ExpireLeases()
    {
        var now = clock.GetUtcNow();
        var expired = new List<(TItem, WorkOutcome)>();
        foreach (var item in items.Where(i => i.State == WorkUnitState.Running).ToList())
        {
            if (!leases.TryGetValue(item.Index, out var lease)) continue;
            var worker = item.Worker ?? "an unknown worker";
            string? reason = null;
            if (now - lease.HeardAt >= options.LeaseTimeout) reason = $"lease expired on {worker}";
            else if (options.StallTimeout > TimeSpan.Zero && lease.Progress is not null && now - lease.ProgressedAt >= options.StallTimeout)
                reason = $"no progress for {options.StallTimeout} on {worker}";
            if (reason is not null) expired.Add((item, RetryOrGiveUp(item, reason)));
        }
        return expired;
    }

    private WorkOutcome RetryOrGiveUp(TItem item, string error)
    {
        leases.Remove(item.Index);
        item.LastError = error;
        if (item.Attempt >= options.MaxAttempts)
        {
            item.State = WorkUnitState.Failed;
            return WorkOutcome.GaveUp;
        }
        item.State = WorkUnitState.Pending;
        return WorkOutcome.Retried;
    }
}
