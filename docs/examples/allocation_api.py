"""Bring your own value model: build an AllocationProblem from arrays and solve it (README, "Python API")."""

import numpy as np

from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_lagrangian import solve_lagrangian

rng = np.random.default_rng(7)
users, actions = 50_000, 3  # actions: telesales, voice-bot, SMS ("do nothing" is implicit)
value = rng.normal([40.0, 12.0, 2.0], [25.0, 8.0, 2.0], size=(users, actions))  # expected profit, yuan
eligible = rng.random((users, actions)) < [0.3, 0.8, 0.95]
cost = np.broadcast_to([9.0, 0.6, 0.05], (users, actions))
minutes = np.broadcast_to([6.0, 0.0, 0.0], (users, actions))

problem = AllocationProblem.from_arrays(
    value, eligible,
    weight=np.stack([cost, minutes]),  # (K, N, A)
    rhs=[60_000.0, 30_000.0],  # budget in yuan, agent-minutes
    sense=[-1, -1],  # both "≤"
    constraint_names=("budget", "agent_minutes"),
    action_names=("telesales", "voicebot", "sms"),
)
allocation = solve_lagrangian(problem)
assert check_feasible(problem, allocation.action) == []
print(f"profit {allocation.objective:,.0f}, certified gap {allocation.gap:.4%}, prices {allocation.prices.round(3)}")
