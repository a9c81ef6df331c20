package flow

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errEnd = errors.New("end")

func TestQueueOrderAndEnd(t *testing.T) {
	var dropped []int
	q := NewQueue[int](nil, func(v int) { dropped = append(dropped, v) })
	for i := 0; i < 5; i++ {
		if !q.Push(i, 1) {
			t.Fatal("push refused")
		}
	}
	q.Close(errEnd)
	if q.Push(9, 1) || len(dropped) != 1 || dropped[0] != 9 {
		t.Fatalf("push after Close: dropped %v", dropped)
	}
	for i := 0; i < 5; i++ {
		v, _, err := q.Pop(context.Background(), nil, nil)
		if err != nil || v != i {
			t.Fatalf("pop %d: %d, %v", i, v, err)
		}
	}
	for i := 0; i < 2; i++ { // the end is sticky
		if _, _, err := q.Pop(context.Background(), nil, nil); err != errEnd {
			t.Fatalf("after the items: %v", err)
		}
	}
}

func TestQueueAbortDropsAndReleases(t *testing.T) {
	b := NewBudget(100)
	var dropped int
	q := NewQueue[int](b, func(int) { dropped++ })
	q.Push(1, 80)
	q.Push(2, 80)
	if !b.Over() || b.Used() != 160 {
		t.Fatalf("used %d", b.Used())
	}
	q.Abort(errEnd)
	if b.Used() != 0 || dropped != 2 {
		t.Fatalf("after Abort: used %d, dropped %d", b.Used(), dropped)
	}
	if _, _, ok, err := q.TryPop(); ok || err != errEnd {
		t.Fatalf("TryPop after Abort: %v %v", ok, err)
	}
	q.Reset()
	if !q.Push(3, 1) {
		t.Fatal("push after Reset refused")
	}
}

func TestQueueAllowance(t *testing.T) {
	b := NewBudget(10)
	q := NewQueue[int](b, nil)
	q.SetAllowance(100)
	q.Push(1, 60)
	q.Push(2, 50) // 110 held, 10 over the allowance
	if b.Used() != 10 || b.Over() {
		t.Fatalf("used %d", b.Used())
	}
	q.Push(3, 5)
	if b.Used() != 15 || !b.Over() {
		t.Fatalf("used %d", b.Used())
	}
	q.TryPop() // 55 held
	if b.Used() != 0 {
		t.Fatalf("used %d after a pop", b.Used())
	}
}

// TestQueueStaysSmall: a reader that stays one item behind the writer does
// not make the queue keep a slot per item ever pushed.
func TestQueueStaysSmall(t *testing.T) {
	q := NewQueue[[]byte](nil, nil)
	q.Push(nil, 0)
	for i := 0; i < 100000; i++ {
		q.Push(nil, 0)
		if _, _, ok, _ := q.TryPop(); !ok {
			t.Fatal("empty")
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cap(q.items) > 64 {
		t.Fatalf("queue of 1 item has capacity %d", cap(q.items))
	}
}

func TestQueuePopGivesUp(t *testing.T) {
	q := NewQueue[int](nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := q.Pop(ctx, nil, nil); err != context.Canceled {
		t.Fatalf("Pop with an ended ctx: %v", err)
	}
	giveUp := make(chan struct{})
	close(giveUp)
	if _, _, err := q.Pop(context.Background(), giveUp, errEnd); err != errEnd {
		t.Fatalf("Pop with giveUp closed: %v", err)
	}
}

func TestBudgetWait(t *testing.T) {
	b := NewBudget(10)
	q := NewQueue[int](b, nil)
	q.Push(1, 20)
	done := make(chan bool, 1)
	go func() { done <- b.Wait(nil) }()
	q.TryPop()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait reported the connection closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the budget had room")
	}
	q.Push(1, 20)
	closed := make(chan struct{})
	close(closed)
	if b.Wait(closed) {
		t.Fatal("Wait over budget with done closed reported room")
	}
}

func TestCredit(t *testing.T) {
	c := NewCredit()
	// Unlimited until enabled: what is sent meanwhile counts later.
	for i := 0; i < 3; i++ {
		if err := c.Take(context.Background(), 100, nil, nil, errEnd); err != nil {
			t.Fatal(err)
		}
	}
	c.Enable(350) // 50 left
	if err := c.Take(context.Background(), 100, nil, nil, errEnd); err != nil {
		t.Fatal(err) // positive credit: one message may overdraw it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Take(ctx, 1, nil, nil, errEnd); err != context.DeadlineExceeded {
		t.Fatalf("Take with no credit: %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- c.Take(context.Background(), 1, nil, nil, errEnd) }()
	c.Grant(60) // -50 + 60 = 10
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.Take(context.Background(), 1, nil, nil, errEnd); err != errEnd {
		t.Fatalf("Take after Close: %v", err)
	}
}

func TestWindowGrantsInQuarters(t *testing.T) {
	w := NewWindow(100)
	if g := w.Taken(20); g != 0 {
		t.Fatalf("granted %d after 20 of 100", g)
	}
	if g := w.Taken(10); g != 30 {
		t.Fatalf("granted %d after 30 of 100, want 30", g)
	}
	if g := w.Taken(10); g != 0 {
		t.Fatalf("granted %d after 10 more", g)
	}
	w.Stop()
	if g := w.Taken(1000); g != 0 {
		t.Fatalf("granted %d after Stop", g)
	}
}
