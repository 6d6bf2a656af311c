// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Errors shared by the Fairwheel contracts
/// @notice File-level custom errors; each contract's ABI lists the ones it can raise.

/// @notice No pool has this id.
error PoolNotFound(uint256 poolId);
/// @notice The caller is not the pool's operator.
error NotOperator(uint256 poolId, address caller);
/// @notice The caller is not the pool's guardian.
error NotGuardian(uint256 poolId, address caller);
/// @notice A Merkle proof does not lead to the stored root.
error InvalidProof();
/// @notice An amount that must be positive is zero.
error ZeroAmount();
/// @notice An address that must be set is the zero address.
error ZeroAddress();
/// @notice A root that must be set is zero.
error ZeroRoot();
/// @notice The pool's guardian has paused it; the call is one that a pause stops.
error PoolIsPaused(uint256 poolId);
